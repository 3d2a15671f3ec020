//! The third phase of signing, one transaction: the documents move to
//! their signed versions, the evidence is recorded, the signer's turn and
//! the signing order advance, the next signers are told, and the events
//! go out with the commit.

use std::collections::{BTreeMap, HashSet};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::future::BoxFuture;

use crate::db::certificates::Certificate;
use crate::db::enterprises::Enterprise;
use crate::db::enums::{AttemptStatus, PartyKind, SignOrder, SignerStatus, TaskStatus};
use crate::db::ids::{AttemptId, EvidenceId, SignerId, TaskId};
use crate::db::outbox::SmsMessage;
use crate::db::signing::{Attempt, Evidence};
use crate::db::tasks::{Document, Signer, Task};
use crate::domain::tasks::events::{self, Happened, Snapshot};
use crate::domain::tasks::initiate::VALUES_CONTEXT;
use crate::domain::tasks::signing::stamping::open_plan;
use crate::domain::tasks::signing::{SignedRevision, new_version};
use crate::domain::templates::frozen::frozen;
use crate::domain::{Services, audit};
use crate::error::{AppError, AppResult};
use crate::events::TaskEventKind;
use crate::notify::texts;

/// Applies the signed `revisions` of an attempt; returns it APPLIED (with
/// the task as this transaction left it), back to PREPARED when a document
/// moved on meanwhile (to be signed again over the new version), ABANDONED
/// when the signer's turn ended meanwhile, or as another process left it.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    id: AttemptId,
    task_id: TaskId,
    revisions: &[SignedRevision],
) -> AppResult<(Attempt, Option<Task>)> {
    let recorded = serde_json::to_value(revisions).map_err(AppError::internal)?;
    let outcome = conn
        .transaction(async |conn| {
            let now = svc.clock.now();
            // The attempt APPLIED unless found otherwise below (the
            // transaction then sets the outcome), and its task: both
            // locked until the commit, in this order. The reads that
            // follow them in the pipeline run only once the locks are
            // held (PostgreSQL runs a connection's statements one after
            // another), so they see the task as the last holder left it.
            // The initiator's name is needed only for invitations, which
            // only SEQUENTIAL order makes.
            let ids = [task_id];
            let (claimed, mut locked, signers, documents, initiator) = futures_util::try_join!(
                Attempt::claim(conn, id, &recorded, now),
                Task::lock_many(conn, &ids),
                Signer::of_tasks(conn, &ids),
                Document::of_tasks(conn, &ids),
                Enterprise::initiating(conn, task_id),
            )?;
            let Some(attempt) = claimed else {
                return Ok(None);
            };
            let task = locked.pop().ok_or(AppError::NotFound("task"))?;
            if attempt.task_id != task.id {
                return Err(AppError::internal(anyhow::anyhow!(
                    "an attempt applied to another task"
                )));
            }
            let sequential = task.sign_order == SignOrder::Sequential;
            let initiator = sequential.then_some(initiator);
            let signer = signers
                .iter()
                .find(|s| s.id == attempt.signer_id)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a signer vanished")))?;
            if task.status != TaskStatus::InProgress || signer.status != SignerStatus::Pending {
                Attempt::set_status(
                    conn,
                    id,
                    AttemptStatus::Abandoned,
                    Some("the task or the signer's turn ended before the signature was applied"),
                    now,
                )
                .await?;
                return Ok(None);
            }
            let moved = revisions.iter().any(|r| {
                documents
                    .iter()
                    .find(|d| d.id == r.document)
                    .is_none_or(|d| d.file_id != Some(r.before_file))
            });
            if moved {
                Attempt::set_status(conn, id, AttemptStatus::Prepared, None, now).await?;
                return Ok(None);
            }
            let plan = open_plan(svc, &attempt)?;
            let serial = if plan.certificate_serial.is_empty() {
                Certificate::find(conn, attempt.certificate_id)
                    .await?
                    .serial_hex
            } else {
                plan.certificate_serial.clone()
            };
            let signed: Vec<(&Document, &SignedRevision)> = revisions
                .iter()
                .filter_map(|r| Some((documents.iter().find(|d| d.id == r.document)?, r)))
                .collect();
            let evidence: Vec<Evidence> = signed
                .iter()
                .map(|(document, revision)| Evidence {
                    id: EvidenceId::new(),
                    attempt_id: attempt.id,
                    task_id: task.id,
                    signer_id: signer.id,
                    document_id: document.id,
                    user_id: attempt.user_id,
                    code_mac: attempt.code_mac.clone(),
                    client_ip: attempt.client_ip.clone(),
                    user_agent: attempt.user_agent.clone(),
                    sha256_before: revision.before_sha256.clone(),
                    sha256_after: revision.after_sha256.clone(),
                    certificate_serial: serial.clone(),
                    signed_at: now,
                })
                .collect();
            let merged = merged_values(svc, &task, plan.values)?;

            let before = Snapshot::of(&task, &signers);
            let mut happened = Vec::new();
            let signed_all =
                own_documents_signed(conn, &task, signer, &documents, revisions).await?;
            let person = (signer.kind == PartyKind::Person).then_some(attempt.user_id);
            let mut invited = Vec::new();
            // The state after, kept in step with the writes below.
            let mut after = signers.clone();
            let mut task_after = task.clone();
            if let Some(sealed) = &merged {
                task_after.values_enc = sealed.clone();
            }
            let mut all_signed = false;
            if signed_all {
                for s in after.iter_mut().filter(|s| s.id == signer.id) {
                    s.status = SignerStatus::Signed;
                    s.user_id = person.or(s.user_id);
                }
                happened.push(Happened {
                    kind: TaskEventKind::SignerSigned,
                    signer: Some(signer.id),
                });
                if after.iter().all(|s| s.status == SignerStatus::Signed) {
                    all_signed = true;
                    task_after.all_signed_at = Some(now);
                } else if sequential {
                    invited = next_step(&after);
                    for s in after.iter_mut().filter(|s| invited.contains(&s.id)) {
                        s.status = SignerStatus::Pending;
                    }
                    for id in &invited {
                        happened.push(Happened {
                            kind: TaskEventKind::SignerPending,
                            signer: Some(*id),
                        });
                    }
                }
            } else if let Some(user) = person {
                for s in after.iter_mut().filter(|s| s.id == signer.id) {
                    s.user_id = Some(user);
                }
            }
            let invitations = match &initiator {
                Some(initiator) => invitations(svc, &task, &initiator.name, &signers, &invited),
                None => Vec::new(),
            };

            // The writes are independent of one another (the task's lock
            // keeps others off these rows), so they go out pipelined.
            let after_snapshot = Snapshot::of(&task_after, &after);
            let shared: &AsyncPgConnection = conn;
            let mut writes: Vec<BoxFuture<'_, AppResult<()>>> = Vec::new();
            for (document, revision) in &signed {
                writes.push(Box::pin(async move {
                    new_version(
                        shared,
                        document,
                        &revision.after_sha256,
                        revision.size,
                        Some(attempt.user_id),
                        now,
                    )
                    .await
                }));
            }
            writes.push(Box::pin(async {
                Ok(Evidence::insert_many(shared, &evidence).await?)
            }));
            if let Some(sealed) = &merged {
                writes.push(Box::pin(async move {
                    Ok(Task::set_values(shared, task.id, sealed).await?)
                }));
            }
            if all_signed {
                writes.push(Box::pin(async move {
                    Ok(Task::set_all_signed(shared, task.id, now).await?)
                }));
            }
            if signed_all {
                writes.push(Box::pin(async {
                    Ok(Signer::set_signed(shared, task.id, signer.id, person, now, &invited).await?)
                }));
            } else if let Some(user) = person {
                writes.push(Box::pin(async move {
                    Ok(Signer::link_user(shared, signer.id, user).await?)
                }));
            }
            for (phone, body) in &invitations {
                writes.push(Box::pin(async move {
                    SmsMessage::enqueue(shared, phone, body, false, task.deadline).await?;
                    Ok(())
                }));
            }
            writes.push(Box::pin(events::publish(
                shared,
                svc,
                task.id,
                happened,
                &before,
                &after_snapshot,
                now,
            )));
            // Last: the audit chain's head stays locked until the commit.
            let chain = Some(task.enterprise_id.0);
            let entry = audit::Entry {
                enterprise: chain,
                actor: Some(attempt.user_id),
                action: "task.sign",
                target_type: "signing_task",
                target_id: Some(task.id.to_string()),
                details: serde_json::json!({
                    "signer": signer.id.to_string(),
                    "documents": revisions.iter().map(|r| r.document.to_string()).collect::<Vec<_>>(),
                    "certificateSerial": serial,
                    "signerDone": signed_all,
                }),
                client_ip: Some(&attempt.client_ip),
            };
            futures_util::try_join!(
                futures_util::future::try_join_all(writes),
                audit::record(shared, svc, entry),
            )?;
            Ok::<_, AppError>(Some((attempt, task_after, !invitations.is_empty())))
        })
        .await?;
    match outcome {
        Some((applied, task, woke)) => {
            if woke {
                svc.outbox.wake();
            }
            Ok((applied, Some(task)))
        }
        None => Ok((Attempt::find(conn, id).await?, None)),
    }
}

/// Whether the signer has now signed every document its role appears in
/// (`now` are the documents signed in this attempt).
async fn own_documents_signed(
    conn: &mut AsyncPgConnection,
    task: &Task,
    signer: &Signer,
    documents: &[Document],
    now: &[SignedRevision],
) -> AppResult<bool> {
    let mut own = Vec::new();
    for document in documents {
        if frozen(conn, document.template_id)
            .await?
            .role(&signer.role_key)
            .is_some()
        {
            own.push(document.id);
        }
    }
    let signed_now: HashSet<_> = now.iter().map(|r| r.document).collect();
    if own.iter().all(|d| signed_now.contains(d)) {
        return Ok(true);
    }
    // Some were signed in earlier calls (this call's evidence is not
    // written yet), or are still to sign.
    let signed: HashSet<_> = Evidence::of_tasks(conn, &[task.id])
        .await?
        .into_iter()
        .filter(|e| e.signer_id == signer.id)
        .map(|e| e.document_id)
        .collect();
    Ok(own
        .iter()
        .all(|d| signed.contains(d) || signed_now.contains(d)))
}

/// In SEQUENTIAL order: the waiting signers of the lowest step not yet
/// finished, once every signer of the steps before it has signed.
fn next_step(signers: &[Signer]) -> Vec<SignerId> {
    let Some(step) = signers
        .iter()
        .filter(|s| s.status != SignerStatus::Signed)
        .map(|s| s.step)
        .min()
    else {
        return Vec::new();
    };
    signers
        .iter()
        .filter(|s| s.step == step && s.status == SignerStatus::Waiting)
        .map(|s| s.id)
        .collect()
}

/// The person among the newly pending signers gets the signing link.
pub(crate) async fn invite(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    signers: &[Signer],
    invited: &[SignerId],
) -> AppResult<()> {
    let people = signers
        .iter()
        .any(|s| invited.contains(&s.id) && s.kind == PartyKind::Person);
    if !people {
        return Ok(());
    }
    let initiator = Enterprise::find(conn, task.enterprise_id).await?;
    for (phone, body) in invitations(svc, task, &initiator.name, signers, invited) {
        SmsMessage::enqueue(conn, &phone, &body, false, task.deadline).await?;
    }
    Ok(())
}

/// The signing links for the people among the newly pending signers, as
/// (phone, text).
fn invitations(
    svc: &Services<'_>,
    task: &Task,
    initiator: &str,
    signers: &[Signer],
    invited: &[SignerId],
) -> Vec<(String, String)> {
    let link = format!("{}/tasks/{}", svc.config.public_base_url(), task.id);
    signers
        .iter()
        .filter(|s| invited.contains(&s.id) && s.kind == PartyKind::Person)
        .filter_map(|s| s.person_phone.clone())
        .map(|phone| {
            let body = texts::signing_invitation(initiator, &task.title, &link);
            (phone, body)
        })
        .collect()
}

/// The values the signer completed joined to the task's, sealed; None when
/// it completed none.
fn merged_values(
    svc: &Services<'_>,
    task: &Task,
    completed: BTreeMap<String, String>,
) -> AppResult<Option<Vec<u8>>> {
    if completed.is_empty() {
        return Ok(None);
    }
    let mut values: BTreeMap<String, String> = serde_json::from_slice(
        &svc.keys
            .open(&task.values_enc, VALUES_CONTEXT)
            .map_err(AppError::internal)?,
    )
    .map_err(AppError::internal)?;
    values.extend(completed);
    let json = serde_json::to_vec(&values).map_err(AppError::internal)?;
    let sealed = svc
        .keys
        .seal(&json, VALUES_CONTEXT)
        .map_err(AppError::internal)?;
    Ok(Some(sealed))
}
