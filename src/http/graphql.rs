//! GraphQL over HTTP: `POST /graphql` (JSON or multipart), `GET /graphql`
//! (queries only), and GraphiQL at `/`.

use async_graphql::ParseRequestError;
use async_graphql::http::{GraphiQLSource, MultipartOptions};
use async_graphql::parser::types::OperationType;
use async_graphql_axum::GraphQLResponse;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use futures_util::TryStreamExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::error::ErrorCode;
use crate::http::HttpState;
use crate::http::client::request_context;

pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("豫云签 GraphQL")
            .finish(),
    )
}

/// A GraphQL-shaped error response for requests refused before execution.
fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    (status, axum::Json(body)).into_response()
}

/// Browsers send simple cross-site requests (text/plain, form posts) without
/// a preflight; refusing them is what stops cross-site request forgery.
fn csrf_safe(headers: &HeaderMap) -> Result<(), &'static str> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "application/json" | "application/graphql-response+json" => Ok(()),
        "multipart/form-data"
            if headers.contains_key("x-requested-with")
                || headers.contains_key("apollo-require-preflight") =>
        {
            Ok(())
        }
        "multipart/form-data" => {
            Err("multipart requests need an X-Requested-With or Apollo-Require-Preflight header")
        }
        _ => Err("requests must be application/json or multipart/form-data"),
    }
}

pub async fn post(State(state): State<HttpState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(message) = csrf_safe(&parts.headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            message,
        );
    }
    let limits = &state.app.config.limits;
    let options = MultipartOptions::default()
        .max_file_size(limits.max_upload_bytes)
        .max_num_files(limits.max_uploads);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reader =
        tokio_util::io::StreamReader::new(body_stream(body).map_err(std::io::Error::other))
            .compat();
    let gql_request = match async_graphql::http::receive_body(content_type, reader, options).await {
        Ok(request) => request,
        Err(ParseRequestError::UnsupportedBatch) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "batched requests are not accepted",
            );
        }
        Err(ParseRequestError::PayloadTooLarge) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BadUserInput,
                "upload is too large",
            );
        }
        Err(ParseRequestError::Io(e)) if e.to_string().contains("length limit") => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BadUserInput,
                "request body is too large",
            );
        }
        Err(e) => {
            tracing::debug!(error = %e, "unreadable graphql request");
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "request is not a readable GraphQL request",
            );
        }
    };
    execute(&state, &parts.headers, &parts.extensions, gql_request).await
}

fn body_stream(
    body: Body,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> {
    body.into_data_stream()
}

/// Queries may come as GET; mutations and subscriptions never run from GET.
pub async fn get(State(state): State<HttpState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let gql_request =
        match async_graphql::http::parse_query_string(parts.uri.query().unwrap_or_default()) {
            Ok(request) => request,
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    "query string is not a GraphQL request",
                );
            }
        };
    if let Ok(document) = async_graphql::parser::parse_query(&gql_request.query) {
        let runs_non_query = document.operations.iter().any(|(name, op)| {
            let selected = match (&gql_request.operation_name, name) {
                (Some(wanted), Some(name)) => wanted == name.as_str(),
                _ => true,
            };
            selected && op.node.ty != OperationType::Query
        });
        if runs_non_query {
            let mut response = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::BadUserInput,
                "mutations and subscriptions must use POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return response;
        }
    }
    execute(&state, &parts.headers, &parts.extensions, gql_request).await
}

async fn execute(
    state: &HttpState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    request: async_graphql::Request,
) -> Response {
    let context = match request_context(&state.app, headers, extensions).await {
        Ok(context) => context,
        Err(e) => {
            let code = e.code();
            let message = e.into_graphql().message;
            return refuse(code.http_status(), code, &message);
        }
    };
    let response = state.schema.execute(request.data(context)).await;
    GraphQLResponse::from(response).into_response()
}
