//! Signing (合同签署): a signer stamps its seals on its documents, proves
//! intent with its code, and each document gets one PAdES B-T revision
//! made with the signer's own certificate.
//!
//! Safe against crashes and double submits, in phases:
//! - `prepare`: the checks, then one transaction that uses up the intent
//!   code and records the attempt (what goes where, which certificate).
//! - `stamping`: the signed revisions, put in the blob store by hash and
//!   noted on the attempt (SIGNED).
//! - `apply`: one transaction moves the documents to their new versions,
//!   records the evidence, advances the signing order and publishes the
//!   events (APPLIED). A document changed meanwhile by a parallel signer
//!   is signed again over its new version.
//! - `complete`: after the last signature, the document timestamps and
//!   LTV data, COMPLETED, the notices and the regulator's report.
//!
//! A retry with the same code finds its attempt and carries it on; the
//! recovery job does the same for attempts a crash left behind.

pub mod apply;
pub mod complete;
pub mod prepare;
pub mod stamping;

use std::collections::BTreeMap;

use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use crate::db::certificates::Certificate;
use crate::db::enums::AttemptStatus;
use crate::db::ids::UserId;
use crate::db::ids::{DocumentId, EnterpriseId, FileId, SealId, SealSlotId, TaskId};
use crate::db::signing::Attempt;
use crate::db::tasks::{Document, NewVersion, Task};
use crate::domain::tasks::{inbox, intent, parties};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::pdf::fill::OwnedFieldText;

/// Where the plan of an attempt is sealed (it holds completed values).
pub const PLAN_CONTEXT: &[u8] = b"signing-plan";
/// A document another signer changed meanwhile is signed again over its
/// new version, this often at most.
const MAX_REBASES: usize = 5;
/// Attempts untouched this long are finished by the recovery job.
pub const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

pub struct SignInput {
    pub task: TaskId,
    pub enterprise: Option<EnterpriseId>,
    pub documents: Option<Vec<DocumentId>>,
    pub placements: Vec<PlacementInput>,
    pub field_values: Option<serde_json::Value>,
    pub sms_code: String,
}

/// A seal put on a slot of the signer's role, or at a free position
/// (page, x, y: points from the page's top-left corner, like slots).
pub struct PlacementInput {
    pub document: DocumentId,
    pub slot: Option<SealSlotId>,
    pub seal: SealId,
    pub page: Option<i32>,
    pub x: Option<f64>,
    pub y: Option<f64>,
}

/// What an attempt signs, fixed when it is recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningPlan {
    pub documents: Vec<DocumentPlan>,
    /// Values the signer completed (stored form), merged into the task's.
    pub values: BTreeMap<String, String>,
    /// The serial of the certificate signed with, for the evidence
    /// (empty in plans recorded before it was kept here).
    #[serde(default)]
    pub certificate_serial: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentPlan {
    pub document: DocumentId,
    /// The signature field's name, unique in the document.
    pub field_name: String,
    /// The first is the signature's main widget.
    pub stamps: Vec<StampPlan>,
    pub cross_page: Option<CrossPagePlan>,
    /// Values the signer completed, in their boxes.
    pub texts: Vec<OwnedFieldText>,
}

/// One image at a rectangle in PDF coordinates (points, bottom-left).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StampPlan {
    /// 0-based.
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub image: StampImage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StampImage {
    /// A seal's image, by the hash its signed record names.
    Seal { seal: SealId, sha256: String },
    /// A date seal drawn with this text.
    Date { text: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossPagePlan {
    pub seal: SealId,
    pub sha256: String,
    /// (0-based page, page width).
    pub pages: Vec<(usize, f32)>,
    pub y: f32,
    pub size: f32,
}

/// One document's step of an attempt: the version signed over and the
/// signed one, both in the blob store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedRevision {
    pub document: DocumentId,
    pub before_file: FileId,
    pub before_sha256: String,
    pub after_sha256: String,
    pub size: i64,
}

/// What the call that recorded an attempt read already, so that carrying
/// it on at once need not read it again (a retry and the recovery job read
/// afresh).
#[derive(Default)]
pub struct Known {
    /// The certificate the attempt signs with.
    pub certificate: Option<Certificate>,
    /// The task's documents with their current files' hashes.
    pub documents: Option<Vec<(Document, Option<String>)>>,
}

/// `signTask`: signs the viewer's turn on a task; a retry with the same
/// code returns the same result without signing again.
pub async fn sign(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    input: SignInput,
) -> AppResult<Task> {
    // Whose turn it is before the code, so a signer out of turn hears why.
    let prepared = match parties::pending_or_hidden(conn, viewer, input.task).await {
        Ok((task, turn)) => prepare::prepare(conn, svc, meta, viewer, &task, turn, &input).await,
        Err(refused) => Err(refused),
    };
    // A call refused because its code was used already may be a retry, or
    // a double submit racing this one: an attempt with this code proves
    // the viewer signed here, so it is carried on. Only a fresh attempt
    // checked that the viewer still sees the task.
    let (attempt, known, fresh) = match prepared {
        Ok((attempt, known)) => (attempt, known, true),
        Err(refused) => {
            let Ok(mac) = intent::code_mac(svc, input.task, viewer, &input.sms_code) else {
                return Err(refused);
            };
            match Attempt::by_code(conn, input.task, viewer.user_id, &mac).await? {
                Some(earlier) => (earlier, Known::default(), false),
                None => return Err(refused),
            }
        }
    };
    let untouched = carry_on(conn, svc, attempt, known).await?;
    if fresh {
        match untouched {
            Some(task) => Ok(task),
            None => Task::find(conn, input.task)
                .await?
                .ok_or(AppError::NotFound("task")),
        }
    } else {
        inbox::find(conn, viewer, input.task).await
    }
}

/// Takes an attempt from wherever it stopped to APPLIED, then completes
/// the task if that was its last signature; the task as it stands unless
/// it was completed now.
pub async fn carry_on(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    attempt: Attempt,
    mut known: Known,
) -> AppResult<Option<Task>> {
    let task = attempt.task_id;
    let mut attempt = attempt;
    // The task as the apply of this call left it.
    let mut applied_now = None;
    for _ in 0..=MAX_REBASES {
        let revisions: Vec<SignedRevision> = match attempt.status {
            AttemptStatus::Applied => break,
            AttemptStatus::Abandoned => {
                return Err(AppError::Conflict(format!(
                    "this signing was not completed ({}); request a new code and sign again",
                    attempt.error.as_deref().unwrap_or("abandoned")
                )));
            }
            AttemptStatus::Prepared => {
                stamping::sign_documents(conn, svc, &attempt, &mut known).await?
            }
            // Recorded as signed by an earlier version, which applied in
            // a step of its own.
            AttemptStatus::Signed => {
                serde_json::from_value(attempt.revisions.clone().unwrap_or_default())
                    .map_err(AppError::internal)?
            }
        };
        failpoint(svc, "signing.before_apply")?;
        (attempt, applied_now) =
            apply::apply(conn, svc, attempt.id, attempt.task_id, &revisions).await?;
    }
    if attempt.status != AttemptStatus::Applied {
        return Err(AppError::Conflict(
            "the documents kept changing while signing; try again".into(),
        ));
    }
    match applied_now {
        // Signers remain: nothing to complete.
        Some(task) if task.all_signed_at.is_none() => Ok(Some(task)),
        _ => complete::complete(conn, svc, task).await,
    }
}

/// Makes the stored blob `sha256` the document's current version.
pub(crate) async fn new_version(
    conn: &AsyncPgConnection,
    document: &Document,
    sha256: &str,
    size: i64,
    by: Option<UserId>,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    Document::set_new_file(
        conn,
        document.id,
        &NewVersion {
            sha256,
            name: &document.name,
            content_type: "application/pdf",
            size,
            created_by: by,
            page_count: document.page_count.unwrap_or(0),
        },
        at,
    )
    .await?;
    Ok(())
}

/// Tests only: fails at the named point as if the process died there.
pub(crate) fn failpoint(svc: &Services<'_>, name: &str) -> AppResult<()> {
    if svc.config.failpoint.as_deref() == Some(name) {
        return Err(AppError::internal(anyhow::anyhow!("failpoint {name}")));
    }
    Ok(())
}

/// Finishes attempts and completions a crash left behind; how many.
pub async fn recover_pass(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<usize> {
    let before = svc.clock.now() - STALE_AFTER;
    let stale = Attempt::stale(conn, before, 50).await?;
    let mut done = 0;
    for attempt in stale {
        let id = attempt.id;
        match carry_on(conn, svc, attempt, Known::default()).await {
            Ok(_) => done += 1,
            Err(AppError::Internal(e)) => {
                tracing::warn!(attempt = %id, error = %format!("{e:#}"), "finishing a signing attempt failed");
            }
            Err(refused) => {
                tracing::info!(attempt = %id, reason = %refused.message(), "signing attempt abandoned");
            }
        }
    }
    for task in Task::completing(conn, before, 50).await? {
        complete::complete(conn, svc, task).await?;
        done += 1;
    }
    Ok(done)
}
