//! `GET /files/{id}?exp=...&sig=...`: a stored file through its signed URL.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::domain::files;
use crate::error::AppError;
use crate::http::HttpState;

#[derive(serde::Deserialize)]
pub struct Signed {
    exp: i64,
    sig: String,
}

pub async fn download(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let opened = async {
        let id = id.parse().map_err(|_| AppError::NotFound("file"))?;
        let mut conn = state.app.pool.get().await?;
        files::open(
            &mut conn,
            &state.app.services(),
            id,
            signed.exp,
            &signed.sig,
        )
        .await
    }
    .await;
    match opened {
        Ok((file, bytes)) => (
            [
                (header::CONTENT_TYPE, file.content_type),
                (header::CACHE_CONTROL, "private, max-age=600".to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
