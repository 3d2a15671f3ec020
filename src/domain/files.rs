//! Stored files leave only through short-lived signed URLs
//! (`/files/{id}?exp=...&sig=...`): the URL is the permission.

use chrono::TimeDelta;
use diesel_async::AsyncPgConnection;

use crate::db::files::StoredFile;
use crate::db::ids::FileId;
use crate::domain::Services;
use crate::error::{AppError, AppResult};
use crate::pki::secrets::constant_time_eq;

pub const URL_LIFETIME: TimeDelta = TimeDelta::minutes(10);

fn signature(svc: &Services<'_>, id: FileId, expires: i64) -> AppResult<String> {
    let mac = svc
        .keys
        .mac(b"file-url", format!("{id}|{expires}").as_bytes())
        .map_err(AppError::internal)?;
    Ok(hex::encode(mac))
}

/// A URL that serves the file for the next ten minutes.
pub fn signed_url(svc: &Services<'_>, id: FileId) -> AppResult<String> {
    let expires = (svc.clock.now() + URL_LIFETIME).timestamp();
    Ok(format!(
        "{}/files/{id}?exp={expires}&sig={}",
        svc.config.public_base_url(),
        signature(svc, id, expires)?
    ))
}

/// The file and its bytes, if the URL's signature holds and has not expired.
pub async fn open(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    id: FileId,
    expires: i64,
    sig: &str,
) -> AppResult<(StoredFile, Vec<u8>)> {
    let expected = signature(svc, id, expires)?;
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes())
        || expires < svc.clock.now().timestamp()
    {
        return Err(AppError::Forbidden("the link is invalid or has expired"));
    }
    let file = StoredFile::find(conn, id).await?;
    let bytes = svc
        .storage
        .fetch(&file.sha256)
        .await
        .map_err(AppError::internal)?;
    Ok((file, bytes))
}
