//! `AppError`: the failures clients can see, their stable codes, and the only
//! mapping of them to GraphQL and HTTP errors.

use std::fmt;

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The stable codes of the API (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    QuotaExhausted,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::QuotaExhausted => "QUOTA_EXHAUSTED",
            Self::Internal => "INTERNAL",
        }
    }

    pub fn http_status(self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadUserInput => StatusCode::BAD_REQUEST,
            Self::Conflict => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::QuotaExhausted => StatusCode::PAYMENT_REQUIRED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failure a client may see.
///
/// Deliberately not `Display`: async-graphql turns any `Display` error into a
/// bare message without a code, so `?` in a resolver must go through the
/// `From<AppError>` below, which adds `extensions.code`.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    /// What was not found ("user", "real-name verification").
    NotFound(&'static str),
    BadInput {
        field: Option<String>,
        message: String,
    },
    Conflict(String),
    /// A batch whose rows fail their checks: BAD_USER_INPUT with every
    /// problem in `extensions.rowErrors`.
    InvalidRows(Vec<RowError>),
    RateLimited {
        message: &'static str,
        retry_after_seconds: Option<i64>,
    },
    QuotaExhausted,
    /// Logged with its chain; the client sees only "internal error".
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// One problem of one row of a batch (rows count from 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub row: i32,
    /// The field key, or `person.name`, `person.phone`, `person.idNumber`.
    pub column: Option<String>,
    pub message: String,
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::BadInput {
            field: Some(field.into()),
            message: message.to_string(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn internal_message(message: String) -> Self {
        Self::Internal(anyhow::anyhow!(message))
    }

    /// For background work, which logs instead of answering a client.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Internal(error) => error,
            other => anyhow::anyhow!("{:?}: {}", other.code(), other.message()),
        }
    }

    /// The message clients see: lowercase, no trailing period, nothing internal.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Forbidden(m) => (*m).to_owned(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::BadInput { message, .. } | Self::Conflict(message) => message.clone(),
            Self::InvalidRows(errors) => {
                format!(
                    "{} problems in the batch's rows; see rowErrors",
                    errors.len()
                )
            }
            Self::RateLimited { message, .. } => (*message).to_owned(),
            Self::QuotaExhausted => "contract quota exhausted".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadInput { .. } | Self::InvalidRows(_) => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::QuotaExhausted => ErrorCode::QuotaExhausted,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Logs an internal error once, with its whole chain, inside the request's span.
    fn log_if_internal(&self) {
        if let Self::Internal(source) = self {
            tracing::error!(error = format!("{source:#}"), "internal error");
        }
    }

    pub fn into_graphql(self) -> async_graphql::Error {
        self.log_if_internal();
        let code = self.code();
        let mut error = async_graphql::Error::new(self.message());
        error = error.extend_with(|_, ext| ext.set("code", code.as_str()));
        match &self {
            Self::BadInput {
                field: Some(field), ..
            } => error = error.extend_with(|_, ext| ext.set("field", field.as_str())),
            Self::RateLimited {
                retry_after_seconds: Some(secs),
                ..
            } => error = error.extend_with(|_, ext| ext.set("retryAfterSeconds", *secs)),
            Self::InvalidRows(errors) => {
                let rows = async_graphql::Value::from_json(
                    serde_json::to_value(errors).unwrap_or_default(),
                )
                .unwrap_or_default();
                error = error.extend_with(|_, ext| ext.set("rowErrors", rows.clone()));
            }
            _ => {}
        }
        error
    }

    /// A plain-text HTTP response for the non-GraphQL endpoints.
    pub fn into_http(self) -> (StatusCode, String) {
        self.log_if_internal();
        let code = self.code();
        (
            code.http_status(),
            format!("{}: {}", code.as_str(), self.message()),
        )
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.into_graphql()
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.into_http().into_response()
    }
}

/// The message a unique violation shows, chosen by the constraint it broke.
fn conflict_message(constraint: Option<&str>) -> String {
    match constraint {
        Some("users_phone_key") => "phone number is already registered",
        Some("users_ukey_fingerprint_key") => "this certificate is bound to another account",
        Some("users_id_number_hash_key") => "this identity is already verified by another account",
        Some("enterprises_uscc_certified_key") => {
            "an enterprise with this unified social credit code is already certified"
        }
        Some("memberships_pkey") => "the user is already a member of this enterprise",
        Some("certificate_orders_open_follow_up_key") => {
            "an order of this kind is already open for the enterprise"
        }
        Some("field_definitions_custom_key") => "the enterprise has a field with this key already",
        _ => "the record already exists",
    }
    .to_owned()
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound("record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict(conflict_message(info.constraint_name()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Self::Conflict("the record changed concurrently, try again".into())
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Internal(anyhow::anyhow!("database pool: {error}"))
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(Option<&'static str>);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint"
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.0
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn diesel_not_found_maps_to_not_found() {
        assert_eq!(
            AppError::from(DieselError::NotFound).code(),
            ErrorCode::NotFound
        );
    }

    #[test]
    fn unique_violation_maps_to_conflict_with_constraint_message() {
        let error = AppError::from(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(Info(Some("users_phone_key"))),
        ));
        assert_eq!(error.code(), ErrorCode::Conflict);
        assert_eq!(error.message(), "phone number is already registered");
    }

    #[test]
    fn other_database_errors_map_to_internal_and_hide_details() {
        let error = AppError::from(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info(None)),
        ));
        assert_eq!(error.code(), ErrorCode::Internal);
        assert_eq!(error.message(), "internal error");
        let gql = error.into_graphql();
        assert_eq!(gql.message, "internal error");
    }

    #[test]
    fn bad_input_carries_field_and_code() {
        let gql = AppError::bad_input("phone", "phone number is not a mainland mobile number")
            .into_graphql();
        let ext = serde_json::to_value(gql.extensions).unwrap();
        assert_eq!(ext["code"], "BAD_USER_INPUT");
        assert_eq!(ext["field"], "phone");
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let gql = AppError::RateLimited {
            message: "too many codes",
            retry_after_seconds: Some(42),
        }
        .into_graphql();
        let ext = serde_json::to_value(gql.extensions).unwrap();
        assert_eq!(ext["code"], "RATE_LIMITED");
        assert_eq!(ext["retryAfterSeconds"], 42);
    }
}
