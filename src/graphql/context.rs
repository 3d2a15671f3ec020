//! What each request carries into resolvers, and the helpers to reach it.

use async_graphql::Context;

use crate::app::App;
use crate::db::PooledConn;
use crate::domain::{RequestMeta, Viewer};
use crate::error::AppError;

/// Per-request data: where the request came from and who sent it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub meta: RequestMeta,
    pub viewer: Option<Viewer>,
}

pub trait ContextExt {
    fn app(&self) -> &App;
    fn request(&self) -> &RequestContext;
    /// The logged-in viewer, or UNAUTHENTICATED.
    fn viewer(&self) -> Result<Viewer, AppError>;
    fn conn(&self) -> impl Future<Output = Result<PooledConn, AppError>> + Send;
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &App {
        #[expect(
            clippy::expect_used,
            reason = "the schema is always built with the App"
        )]
        self.data::<App>().expect("App in schema data")
    }

    fn request(&self) -> &RequestContext {
        #[expect(
            clippy::expect_used,
            reason = "every entry point adds a RequestContext"
        )]
        self.data::<RequestContext>()
            .expect("RequestContext in request data")
    }

    fn viewer(&self) -> Result<Viewer, AppError> {
        self.request()
            .viewer
            .ok_or(AppError::Unauthenticated("log in first"))
    }

    async fn conn(&self) -> Result<PooledConn, AppError> {
        Ok(self.app().pool.get().await?)
    }
}

/// Parses an ID argument; a malformed one is BAD_USER_INPUT on that field.
pub fn parse_id<T: std::str::FromStr>(field: &str, id: &async_graphql::ID) -> Result<T, AppError> {
    id.parse()
        .map_err(|_| AppError::bad_input(field, "not a valid id"))
}

/// Reads an upload of at most `max` bytes (one byte more is read, so the
/// caller can tell a larger one); (file name, bytes).
pub async fn read_upload(
    ctx: &Context<'_>,
    field: &str,
    upload: &async_graphql::Upload,
    max: usize,
) -> Result<(String, Vec<u8>), AppError> {
    use std::io::Read;
    let value = upload
        .value(ctx)
        .map_err(|_| AppError::bad_input(field, "the upload could not be read"))?;
    let name = value.filename.clone();
    let file = value.content;
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let bytes = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        file.take(limit).read_to_end(&mut bytes).map(|_| bytes)
    })
    .await?
    .map_err(|_| AppError::bad_input(field, "the upload could not be read"))?;
    Ok((name, bytes))
}

/// A cursor over lists ordered by (time, id), newest first.
pub fn time_cursor(at: chrono::DateTime<chrono::Utc>, id: impl std::fmt::Display) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.timestamp_micros()))
}

pub fn decode_time_cursor<T: std::str::FromStr>(
    cursor: &str,
) -> Result<(chrono::DateTime<chrono::Utc>, T), AppError> {
    use base64::Engine;
    let bad = || AppError::bad_input("after", "not a cursor of this list");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}
