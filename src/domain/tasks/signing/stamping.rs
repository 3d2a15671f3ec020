//! The second phase of signing: each planned document signed in a new
//! revision over its current version (seals at their slots, the date
//! seal, the cross-page seal, completed values, then the PAdES B-T
//! signature), put in the blob store by hash and noted on the attempt.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;

use crate::db::certificates::Certificate;
use crate::db::signing::Attempt;
use crate::db::tasks::Document;
use crate::domain::Services;
use crate::domain::pdf_signatures::{self, Placement};
use crate::domain::tasks::signing::{
    DocumentPlan, Known, PLAN_CONTEXT, SignedRevision, SigningPlan, StampImage, StampPlan,
};
use crate::error::{AppError, AppResult};
use crate::pdf::stamp::{self, Stamp};

pub fn open_plan(svc: &Services<'_>, attempt: &Attempt) -> AppResult<SigningPlan> {
    let json = svc
        .keys
        .open(&attempt.plan_enc, PLAN_CONTEXT)
        .map_err(AppError::internal)?;
    serde_json::from_slice(&json).map_err(AppError::internal)
}

async fn blob(svc: &Services<'_>, sha256: &str) -> AppResult<Vec<u8>> {
    svc.storage.fetch(sha256).await.map_err(AppError::internal)
}

/// Date seals drawn, by their text: the same date serves a day of
/// signatures, and drawing one costs more than the signature.
static DATE_SEALS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Vec<u8>>>> =
    std::sync::OnceLock::new();

fn date_seal(text: &str) -> AppResult<Vec<u8>> {
    let cache = DATE_SEALS.get_or_init(Default::default);
    if let Some(png) = cache.lock().ok().and_then(|c| c.get(text).cloned()) {
        return Ok(png);
    }
    let png = crate::seal_images::date_seal(text).map_err(AppError::internal)?;
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(text.to_owned(), png.clone());
    }
    Ok(png)
}

/// The widgets of one document's signature, built from the plan and the
/// seal images (by hash).
fn placement(plan: DocumentPlan, images: &HashMap<String, Vec<u8>>) -> AppResult<Placement> {
    let drawn: Vec<(usize, Vec<u8>, &StampPlan)> = plan
        .stamps
        .iter()
        .map(|s| {
            let png = match &s.image {
                StampImage::Seal { sha256, .. } => {
                    images.get(sha256).cloned().ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("a seal image is missing"))
                    })?
                }
                StampImage::Date { text } => date_seal(text)?,
            };
            Ok((s.page, png, s))
        })
        .collect::<AppResult<_>>()?;
    let mut appearances = Vec::with_capacity(drawn.len());
    for (page, png, s) in &drawn {
        let appearance = stamp::appearance(&[Stamp {
            png,
            x: s.x,
            y: s.y,
            width: s.width,
            height: s.height,
        }])
        .map_err(AppError::internal)?;
        appearances.push((*page, appearance));
    }
    if let Some(cross) = &plan.cross_page {
        let png = images
            .get(&cross.sha256)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a seal image is missing")))?;
        appearances.extend(
            stamp::cross_page(png, &cross.pages, cross.y, cross.size)
                .map_err(AppError::internal)?,
        );
    }
    let mut appearances = appearances.into_iter();
    let (page, appearance) = match appearances.next() {
        Some((page, appearance)) => (page, Some(appearance)),
        None => (0, None),
    };
    Ok(Placement {
        field_name: plan.field_name,
        page,
        appearance,
        stamps: appearances.collect(),
        texts: plan.texts,
    })
}

/// Signs every document of the attempt over its current version; the
/// signed revisions, in the blob store, for `apply` to claim. Nothing is
/// recorded: after a crash here the attempt is signed again.
pub async fn sign_documents(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    attempt: &Attempt,
    known: &mut Known,
) -> AppResult<Vec<SignedRevision>> {
    let plan = open_plan(svc, attempt)?;
    // Read again after a rebase: only the first pass may use what the
    // recording call read.
    let documents = match known.documents.take() {
        Some(documents) => documents,
        None => Document::of_task_with_sha256(conn, attempt.task_id).await?,
    };
    let certificate = match known
        .certificate
        .take()
        .filter(|c| c.id == attempt.certificate_id)
    {
        Some(certificate) => certificate,
        None => Certificate::find(conn, attempt.certificate_id).await?,
    };
    let mut images: HashMap<String, Vec<u8>> = HashMap::new();
    for document in &plan.documents {
        let hashes = document
            .stamps
            .iter()
            .filter_map(|s| match &s.image {
                StampImage::Seal { sha256, .. } => Some(sha256.clone()),
                StampImage::Date { .. } => None,
            })
            .chain(document.cross_page.iter().map(|c| c.sha256.clone()));
        for sha256 in hashes {
            if let std::collections::hash_map::Entry::Vacant(entry) = images.entry(sha256) {
                let png = blob(svc, entry.key()).await?;
                entry.insert(png);
            }
        }
    }
    let mut revisions = Vec::with_capacity(plan.documents.len());
    for document_plan in plan.documents {
        let (document, before_sha256) = documents
            .iter()
            .find(|(d, _)| d.id == document_plan.document)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a document vanished")))?;
        let (Some(before_file), Some(before_sha256)) = (document.file_id, before_sha256.clone())
        else {
            return Err(AppError::internal(anyhow::anyhow!("an unfilled document")));
        };
        let pdf = blob(svc, &before_sha256).await?;
        let id = document_plan.document;
        let widgets = placement(document_plan, &images)?;
        let stored = pdf_signatures::sign_and_store(conn, svc, pdf, &certificate, widgets).await?;
        revisions.push(SignedRevision {
            document: id,
            before_file,
            before_sha256,
            after_sha256: stored.sha256,
            size: stored.size,
        });
    }
    Ok(revisions)
}
