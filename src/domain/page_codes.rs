//! The codes behind the per-page QR codes (防抽页): a document id and a page
//! number with a MAC under the master key, so that a code can be neither
//! guessed nor pointed at another page. `{public base URL}/t/{code}` is what
//! the QR code holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::pki::secrets::{MasterKey, constant_time_eq};

const CONTEXT: &[u8] = b"page-code";
/// 80 bits of MAC: beyond guessing, short enough for a small QR code.
const MAC_BYTES: usize = 10;

fn mac(keys: &MasterKey, body: &[u8]) -> Option<Vec<u8>> {
    let mut mac = keys.mac(CONTEXT, body).ok()?;
    mac.truncate(MAC_BYTES);
    Some(mac)
}

/// The code of `page` (1-based) of `document`.
pub fn encode(keys: &MasterKey, document: Uuid, page: u16) -> Option<String> {
    let mut bytes = document.as_bytes().to_vec();
    bytes.extend_from_slice(&page.to_be_bytes());
    let tag = mac(keys, &bytes)?;
    bytes.extend(tag);
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// (document, page) of a genuine code; None for anything else.
pub fn decode(keys: &MasterKey, code: &str) -> Option<(Uuid, u16)> {
    if code.len() > 64 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(code).ok()?;
    if bytes.len() != 16 + 2 + MAC_BYTES {
        return None;
    }
    let (body, tag) = bytes.split_at(18);
    if !constant_time_eq(&mac(keys, body)?, tag) {
        return None;
    }
    let document = Uuid::from_slice(&body[..16]).ok()?;
    Some((document, u16::from_be_bytes([body[16], body[17]])))
}

/// What the QR code of that page holds.
pub fn url(public_base_url: &str, code: &str) -> String {
    format!("{public_base_url}/t/{code}")
}

/// What a page's code says: which document, which task, which page.
pub struct PageTrace {
    pub document_id: crate::db::ids::DocumentId,
    pub document_name: String,
    pub task_title: String,
    pub page: i32,
    pub page_count: i32,
}

/// Resolves a page code (anyone holding the paper may); NOT_FOUND for a
/// code that is forged, mistyped or names no page of a document.
pub async fn trace(
    conn: &mut diesel_async::AsyncPgConnection,
    svc: &crate::domain::Services<'_>,
    code: &str,
) -> crate::error::AppResult<PageTrace> {
    use crate::db::tasks::{Document, Task};
    use crate::error::AppError;
    let (document, page) = decode(svc.keys, code.trim()).ok_or(AppError::NotFound("page"))?;
    let document = Document::find(conn, crate::db::ids::DocumentId(document))
        .await?
        .ok_or(AppError::NotFound("page"))?;
    let page_count = document.page_count.ok_or(AppError::NotFound("page"))?;
    let page = i32::from(page);
    if !(1..=page_count).contains(&page) {
        return Err(AppError::NotFound("page"));
    }
    let task = Task::find(conn, document.task_id)
        .await?
        .ok_or(AppError::NotFound("page"))?;
    Ok(PageTrace {
        document_id: document.id,
        document_name: document.name,
        task_title: task.title,
        page,
        page_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_resist_tampering() {
        let keys = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
        let other = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
        let document = Uuid::new_v4();
        let code = encode(&keys, document, 7).unwrap();
        assert_eq!(decode(&keys, &code), Some((document, 7)));
        assert_eq!(decode(&other, &code), None, "another platform's key");
        let mut bytes = URL_SAFE_NO_PAD.decode(&code).unwrap();
        bytes[17] ^= 1;
        assert_eq!(
            decode(&keys, &URL_SAFE_NO_PAD.encode(bytes)),
            None,
            "another page"
        );
        assert_eq!(decode(&keys, "not-a-code"), None);
        assert!(code.len() < 40);
    }
}
