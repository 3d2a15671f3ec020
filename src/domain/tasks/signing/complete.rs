//! After the last signature: each document gets its LTV data and a
//! document timestamp (PAdES B-LT), the task becomes COMPLETED, the
//! employee is told by SMS where to download the contract (free), the
//! initiator and the signing enterprises' ADMINs hear of it, and the
//! regulator's report is queued, all in one transaction with the events.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::{Enterprise, Memberships};
use crate::db::enums::{PartyKind, TaskStatus};
use crate::db::files::StoredFile;
use crate::db::ids::{DocumentId, FileId, TaskId};
use crate::db::outbox::SmsMessage;
use crate::db::signing::queue_regulator_report;
use crate::db::tasks::{Document, Signer, Task};
use crate::db::users::User;
use crate::domain::tasks::events::{self, Happened, Snapshot};
use crate::domain::tasks::signing::new_version;
use crate::domain::{Services, audit, pdf_signatures};
use crate::error::{AppError, AppResult};
use crate::events::TaskEventKind;
use crate::notify::texts;

struct Finished {
    document: DocumentId,
    before: FileId,
    sha256: String,
    size: i64,
}

/// Completes `task` if every signer has signed and it is not completed
/// yet; does nothing otherwise (so retries and the job may call it). The
/// task as read when it was left as it was.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: TaskId,
) -> AppResult<Option<Task>> {
    let Some(found) = Task::find(conn, task).await? else {
        return Ok(None);
    };
    if found.status != TaskStatus::InProgress || found.all_signed_at.is_none() {
        return Ok(Some(found));
    }
    let mut finished = Vec::new();
    for document in Document::of_tasks(conn, &[task]).await? {
        let before = document
            .file_id
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("an unfilled document")))?;
        let file = StoredFile::find(conn, before).await?;
        let pdf = svc
            .storage
            .fetch(&file.sha256)
            .await
            .map_err(AppError::internal)?;
        let done = pdf_signatures::complete(conn, svc, pdf).await?;
        let size = i64::try_from(done.len()).map_err(AppError::internal)?;
        let sha256 = svc.storage.save(done).await.map_err(AppError::internal)?;
        finished.push(Finished {
            document: document.id,
            before,
            sha256,
            size,
        });
    }
    let told = conn
        .transaction(async |conn| {
            let Some(task) = Task::lock_many(conn, &[task]).await?.pop() else {
                return Ok(false);
            };
            let documents = Document::of_tasks(conn, &[task.id]).await?;
            let unchanged = finished.iter().all(|f| {
                documents
                    .iter()
                    .any(|d| d.id == f.document && d.file_id == Some(f.before))
            });
            if task.status != TaskStatus::InProgress || !unchanged {
                return Ok(false);
            }
            let now = svc.clock.now();
            for (finished, document) in finished
                .iter()
                .filter_map(|f| Some((f, documents.iter().find(|d| d.id == f.document)?)))
            {
                new_version(conn, document, &finished.sha256, finished.size, None, now).await?;
            }
            let signers = Signer::of_tasks(conn, &[task.id]).await?;
            let before = Snapshot::of(&task, &signers);
            Task::complete(conn, task.id, now).await?;
            let initiator = Enterprise::find(conn, task.enterprise_id).await?;
            let link = format!("{}/tasks/{}", svc.config.public_base_url(), task.id);
            for signer in signers.iter().filter(|s| s.kind == PartyKind::Person) {
                if let Some(phone) = &signer.person_phone {
                    let body = texts::contract_concluded(&initiator.name, &task.title, &link);
                    SmsMessage::enqueue(conn, phone, &body, false, None).await?;
                }
            }
            // The initiator and the ADMIN of every signing enterprise.
            let mut told = vec![task.initiated_by];
            for enterprise in signers.iter().filter_map(|s| s.enterprise_id) {
                if let Some(admin) = Memberships::admin(conn, enterprise).await? {
                    told.push(admin);
                }
            }
            told.sort_by_key(|u| u.0);
            told.dedup();
            for user in told {
                let phone = User::find(conn, user).await?.phone;
                let body = texts::task_completed(&task.title);
                SmsMessage::enqueue(conn, &phone, &body, false, None).await?;
            }
            queue_regulator_report(conn, task.id, task.enterprise_id).await?;
            audit::record(
                conn,
                svc,
                audit::Entry {
                    enterprise: Some(task.enterprise_id.0),
                    actor: None,
                    action: "task.complete",
                    target_type: "signing_task",
                    target_id: Some(task.id.to_string()),
                    details: serde_json::json!({ "documents": finished.len() }),
                    client_ip: None,
                },
            )
            .await?;
            let after = Task::find(conn, task.id)
                .await?
                .ok_or(AppError::NotFound("task"))?;
            events::publish(
                conn,
                svc,
                task.id,
                vec![Happened {
                    kind: TaskEventKind::TaskCompleted,
                    signer: None,
                }],
                &before,
                &Snapshot::of(&after, &signers),
                now,
            )
            .await?;
            Ok::<_, AppError>(true)
        })
        .await?;
    if told {
        svc.outbox.wake();
    }
    Ok(None)
}
