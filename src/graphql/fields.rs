//! Field definitions in GraphQL: what a business type's templates can place
//! (`BusinessType.fields`) and the enterprise's custom fields.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, Result};

use crate::db::enums;
use crate::db::field_definitions::{self as rows, fields_of_type};
use crate::db::ids::{BusinessTypeId, EnterpriseId};
use crate::domain::fields::{self, NewField};
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::enterprises::BusinessType;
use crate::graphql::loaders::{FieldsLoader, load};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FieldType {
    Text,
    Number,
    Date,
    /// A resident ID number (GB 11643 checksum).
    IdNumber,
    Phone,
    /// An amount in yuan.
    Money,
}

impl From<enums::FieldType> for FieldType {
    fn from(kind: enums::FieldType) -> Self {
        match kind {
            enums::FieldType::Text => Self::Text,
            enums::FieldType::Number => Self::Number,
            enums::FieldType::Date => Self::Date,
            enums::FieldType::IdNumber => Self::IdNumber,
            enums::FieldType::Phone => Self::Phone,
            enums::FieldType::Money => Self::Money,
        }
    }
}

impl From<FieldType> for enums::FieldType {
    fn from(kind: FieldType) -> Self {
        match kind {
            FieldType::Text => Self::Text,
            FieldType::Number => Self::Number,
            FieldType::Date => Self::Date,
            FieldType::IdNumber => Self::IdNumber,
            FieldType::Phone => Self::Phone,
            FieldType::Money => Self::Money,
        }
    }
}

/// A field a template can place: public (from the catalogue of its
/// business type) or custom (the enterprise's own).
pub struct FieldDefinition(pub rows::FieldDefinition);

#[Object]
impl FieldDefinition {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stable key, e.g. `employee_name`; sheets and payloads use it.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// Chinese label, e.g. 劳动者姓名.
    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn r#type(&self) -> FieldType {
        self.0.field_type.into()
    }

    /// Templates of this business type must place it before publishing.
    async fn required_in_template(&self) -> bool {
        self.0.required_in_template
    }

    async fn custom(&self) -> bool {
        self.0.enterprise_id.is_some()
    }
}

#[ComplexObject]
impl BusinessType {
    /// The public fields of this business type, then the enterprise's custom ones.
    async fn fields(&self, ctx: &Context<'_>) -> Result<Vec<FieldDefinition>> {
        let rows = load::<_, FieldsLoader>(ctx, self.enterprise).await?;
        Ok(fields_of_type(&rows, self.enterprise, self.key, &self.name)
            .into_iter()
            .map(FieldDefinition)
            .collect())
    }
}

#[derive(Default)]
pub struct FieldsMutation;

#[Object]
impl FieldsMutation {
    /// A custom field (ADMIN only), for one business type or, without
    /// `businessTypeId`, for all of them. Keys are snake_case and may not
    /// repeat a public field's key.
    async fn create_custom_field(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        business_type_id: Option<ID>,
        key: String,
        label: String,
        r#type: FieldType,
    ) -> Result<FieldDefinition> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let business_type: Option<BusinessTypeId> = business_type_id
            .map(|id| parse_id("businessTypeId", &id))
            .transpose()?;
        let mut conn = ctx.conn().await?;
        let created = fields::create_custom_field(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            NewField {
                enterprise,
                business_type,
                key: &key,
                label: &label,
                field_type: r#type.into(),
            },
        )
        .await?;
        Ok(FieldDefinition(created))
    }
}
