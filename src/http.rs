//! The HTTP surface: router, GraphQL over HTTP and WebSocket, health,
//! webhooks, request ids and limits.

pub mod capture;
pub mod client;
pub mod files;
pub mod graphql;
pub mod health;
pub mod page_trace;
pub mod pki;
pub mod webhooks;
pub mod ws;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::app::App;
use crate::config::IdentityAdapterKind;
use crate::graphql::{AppSchema, build_schema};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub app: App,
    pub schema: AppSchema,
}

pub fn build_router(app: App) -> Router {
    let schema = build_schema(&app);
    let state = HttpState {
        app: app.clone(),
        schema,
    };
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            app.config
                .allowed_origins
                .iter()
                .filter_map(|origin| origin.parse().ok()),
        ))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("apollo-require-preflight"),
        ])
        .max_age(Duration::from_secs(600));
    let mut router = Router::new()
        .route("/", get(graphql::graphiql))
        .route("/graphql", post(graphql::post).get(graphql::get))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/health", get(health::health))
        .route("/pki/root.pem", get(pki::root_pem))
        .route("/pki/issuing.pem", get(pki::issuing_pem))
        .route("/pki/crl", get(pki::crl))
        .route("/pki/root.crl", get(pki::root_crl))
        .route("/files/{id}", get(files::download))
        .route("/capture/{id}", get(capture::page))
        .route("/t/{code}", get(page_trace::show))
        .route(
            "/webhooks/identity/{provider}",
            post(webhooks::identity_webhook),
        );
    // The stand-in face page exists only with the local identity provider.
    if app.config.identity.identity_adapter == IdentityAdapterKind::Local {
        router = router.route(
            "/identity/local/face/{reference}",
            get(webhooks::local_face_page).post(webhooks::local_face_submit),
        );
    }
    router
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(app.config.limits.max_body_bytes))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request.id = %request_id,
                        http.method = %request.method(),
                        http.path = %request.uri().path(),
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
