//! The GraphQL schema: one Query/Mutation/Subscription part per domain,
//! merged here, with the hardening limits from Config.

pub mod accounts;
pub mod certificates;
pub mod certification;
pub mod context;
pub mod enterprises;
pub mod fields;
pub mod follow_up_orders;
pub mod limits;
pub mod loaders;
pub mod real_name;
pub mod seals;
pub mod signing;
pub mod task_views;
pub mod tasks;
pub mod templates;
pub mod verification;

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema, SchemaBuilder};

use crate::app::App;

#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountsQuery,
    certification::CertificationQuery,
    enterprises::EnterprisesQuery,
    templates::TemplatesQuery,
    tasks::TasksQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountsMutation,
    real_name::RealNameMutation,
    certification::CertificationMutation,
    follow_up_orders::FollowUpOrdersMutation,
    enterprises::EnterprisesMutation,
    fields::FieldsMutation,
    seals::SealsMutation,
    verification::VerificationMutation,
    templates::TemplatesMutation,
    tasks::TasksMutation,
    signing::SigningMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    accounts::AccountsSubscription,
    certification::CertificationSubscription,
    signing::SigningSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}

pub fn build_schema(app: &App) -> AppSchema {
    let limits = &app.config.limits;
    let mut builder = loaders::register(builder(), &app.pool)
        .data(app.clone())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_directives(limits.max_directives)
        .limit_recursive_depth(32)
        .extension(limits::QueryLimits {
            max_bytes: limits.max_document_bytes,
            max_tokens: limits.max_tokens,
            max_aliases: limits.max_aliases,
            max_directives: limits.max_directives,
            parsed: Default::default(),
        });
    if !app.config.introspection_enabled() {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The SDL of the schema as `schema.graphql` holds it: sorted, space-indented.
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items()
            .use_space_ident(),
    )
}
