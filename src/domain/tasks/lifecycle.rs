//! The initiator's hold on tasks in progress: revoking them (撤销, with the
//! quota unit given back when nobody has signed), reminding signers (催办,
//! once an hour per signer), and the job that voids tasks past their
//! deadline.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::Enterprise;
use crate::db::enums::{PartyKind, SignerStatus, TaskStatus, VoidReason};
use crate::db::ids::TaskId;
use crate::db::outbox::SmsMessage;
use crate::db::quota::Quota;
use crate::db::tasks::{Signer, Task};
use crate::domain::tasks::events::{self, Happened, Snapshot};
use crate::domain::tasks::inbox::{self, Space, TaskBox};
use crate::domain::tasks::parties;
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::events::TaskEventKind;
use crate::notify::texts;

pub const MAX_TASKS_PER_CALL: usize = 100;
const REMIND_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// Expired tasks one pass voids.
const EXPIRY_PASS: i64 = 200;

/// The audit row of an action on `task`, by a person (with the request) or
/// by the platform's jobs.
async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    by: Option<(&Viewer, &RequestMeta)>,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        svc,
        audit::Entry {
            enterprise: Some(task.enterprise_id.0),
            actor: by.map(|(viewer, _)| viewer.user_id),
            action,
            target_type: "signing_task",
            target_id: Some(task.id.to_string()),
            details,
            client_ip: by.map(|(_, meta)| meta.client_ip.as_str()),
        },
    )
    .await
}

/// The ids asked for, each once: 1 to 100 of them.
fn distinct(ids: &[TaskId]) -> AppResult<Vec<TaskId>> {
    if ids.is_empty() || ids.len() > MAX_TASKS_PER_CALL {
        return Err(AppError::bad_input(
            "taskIds",
            format!("1 to {MAX_TASKS_PER_CALL} tasks at a time"),
        ));
    }
    let mut unique = ids.to_vec();
    unique.sort_by_key(|id| id.0);
    unique.dedup();
    Ok(unique)
}

/// The tasks `ids` as the initiating side sees them (its 我发起的 box);
/// NOT_FOUND for any other.
async fn initiated(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    ids: &[TaskId],
) -> AppResult<Vec<Task>> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let task = Task::find(conn, *id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        let visible = match inbox::find_in(
            conn,
            viewer,
            Space::Enterprise(task.enterprise_id),
            TaskBox::Initiated,
            task.id,
        )
        .await
        {
            Ok(found) => found.is_some(),
            Err(AppError::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        if !visible {
            return Err(AppError::NotFound("task"));
        }
        found.push(task);
    }
    Ok(found)
}

/// Voids IN_PROGRESS tasks of the viewer's initiating side (REVOKED); a
/// task nobody has signed yet gives its quota unit back, once.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    ids: &[TaskId],
    reason: &str,
) -> AppResult<Vec<Task>> {
    let reason = checked_reason(reason)?;
    let unique = distinct(ids)?;
    let result = conn
        .transaction(async |conn| {
            initiated(conn, viewer, &unique).await?;
            let tasks = Task::lock_many(conn, &unique).await?;
            if let Some(done) = tasks.iter().find(|t| t.status != TaskStatus::InProgress) {
                return Err(AppError::Conflict(format!(
                    "task {} is no longer in progress",
                    done.id
                )));
            }
            let signers = Signer::of_tasks(conn, &unique).await?;
            let now = svc.clock.now();
            for task in &tasks {
                Task::void(conn, task.id, VoidReason::Revoked, Some(reason), now).await?;
                voided(conn, svc, task, &signers, Vec::new(), now).await?;
                let own: Vec<&Signer> = signers.iter().filter(|s| s.task_id == task.id).collect();
                let refunded = !own.iter().any(|s| s.status == SignerStatus::Signed)
                    && Quota::refund_task(
                        conn,
                        task.enterprise_id,
                        task.id,
                        Some(viewer.user_id),
                        now,
                    )
                    .await?;
                let initiator = Enterprise::find(conn, task.enterprise_id).await?;
                for signer in own
                    .iter()
                    .filter(|s| s.kind == PartyKind::Person && task.ready_at.is_some())
                {
                    if let Some(phone) = &signer.person_phone {
                        let body = texts::task_revoked(&initiator.name, &task.title);
                        SmsMessage::enqueue(conn, phone, &body, false, None).await?;
                    }
                }
                record(
                    conn,
                    svc,
                    task,
                    Some((viewer, meta)),
                    "task.revoke",
                    serde_json::json!({ "reason": reason, "refunded": refunded }),
                )
                .await?;
            }
            Ok(Task::lock_many(conn, &unique).await?)
        })
        .await?;
    svc.outbox.wake();
    Ok(result)
}

/// Publishes that `task` was voided (it moved to every side's VOIDED box).
async fn voided(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    signers: &[Signer],
    mut happened: Vec<Happened>,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let before = Snapshot::of(task, signers);
    let mut after = task.clone();
    after.status = TaskStatus::Voided;
    happened.push(Happened {
        kind: TaskEventKind::TaskVoided,
        signer: None,
    });
    events::publish(
        conn,
        svc,
        task.id,
        happened,
        &before,
        &Snapshot::of(&after, signers),
        at,
    )
    .await
}

fn checked_reason(reason: &str) -> AppResult<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "reason",
            "a reason has 1 to 200 characters",
        ));
    }
    Ok(reason)
}

/// 拒签: a PENDING signer the initiator allowed to refuse ends the task
/// (VOIDED, REFUSED); the other signers and the initiator are told. The
/// quota unit stays spent.
pub async fn refuse(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TaskId,
    reason: &str,
) -> AppResult<Task> {
    let reason = checked_reason(reason)?;
    let task = conn
        .transaction(async |conn| {
            inbox::find(conn, viewer, id).await?;
            let task = Task::lock_many(conn, &[id])
                .await?
                .pop()
                .ok_or(AppError::NotFound("task"))?;
            if task.status != TaskStatus::InProgress {
                return Err(AppError::Conflict(
                    "the task is no longer in progress".into(),
                ));
            }
            let signers = Signer::of_tasks(conn, &[id]).await?;
            let signer = parties::pending(conn, viewer, &task)
                .await?
                .signers
                .into_iter()
                .next()
                .ok_or_else(|| AppError::Conflict("it is not your turn on this task".into()))?;
            if !signer.can_refuse {
                return Err(AppError::Forbidden(
                    "the initiator did not allow this signer to refuse",
                ));
            }
            let now = svc.clock.now();
            Signer::refuse(conn, signer.id, reason, now).await?;
            Task::void(conn, task.id, VoidReason::Refused, Some(reason), now).await?;
            let mut after_signers = signers.clone();
            for s in after_signers.iter_mut().filter(|s| s.id == signer.id) {
                s.status = SignerStatus::Refused;
            }
            let before = Snapshot::of(&task, &signers);
            let mut after = task.clone();
            after.status = TaskStatus::Voided;
            events::publish(
                conn,
                svc,
                task.id,
                vec![
                    Happened {
                        kind: TaskEventKind::SignerRefused,
                        signer: Some(signer.id),
                    },
                    Happened {
                        kind: TaskEventKind::TaskVoided,
                        signer: None,
                    },
                ],
                &before,
                &Snapshot::of(&after, &after_signers),
                now,
            )
            .await?;
            let who = match signer.enterprise_id {
                Some(enterprise) => Enterprise::find(conn, enterprise).await?.name,
                None => signer.person_name.clone().unwrap_or_default(),
            };
            let body = texts::task_refused(&who, &task.title);
            let mut phones: Vec<String> = signers
                .iter()
                .filter(|s| s.id != signer.id && s.kind == PartyKind::Person)
                .filter_map(|s| s.person_phone.clone())
                .collect();
            phones.push(
                crate::db::users::User::find(conn, task.initiated_by)
                    .await?
                    .phone,
            );
            phones.sort();
            phones.dedup();
            for phone in phones {
                SmsMessage::enqueue(conn, &phone, &body, false, None).await?;
            }
            record(
                conn,
                svc,
                &task,
                Some((viewer, meta)),
                "task.refuse",
                serde_json::json!({ "reason": reason, "signer": signer.id.to_string() }),
            )
            .await?;
            Task::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("task"))
        })
        .await?;
    svc.outbox.wake();
    Ok(task)
}

/// An SMS to every PENDING person signer of the tasks who was not reminded
/// in the last hour; how many were sent.
pub async fn remind(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    ids: &[TaskId],
) -> AppResult<i32> {
    let unique = distinct(ids)?;
    let sent = conn
        .transaction(async |conn| {
            initiated(conn, viewer, &unique).await?;
            let tasks = Task::lock_many(conn, &unique).await?;
            let signers = Signer::of_tasks(conn, &unique).await?;
            let now = svc.clock.now();
            let mut reminded = Vec::new();
            for task in tasks
                .iter()
                .filter(|t| t.status == TaskStatus::InProgress && t.ready_at.is_some())
            {
                let initiator = Enterprise::find(conn, task.enterprise_id).await?;
                for signer in signers.iter().filter(|s| {
                    s.task_id == task.id
                        && s.kind == PartyKind::Person
                        && s.status == SignerStatus::Pending
                        && s.reminded_at.is_none_or(|at| now - at >= REMIND_EVERY)
                }) {
                    if let Some(phone) = &signer.person_phone {
                        let link = format!("{}/tasks/{}", svc.config.public_base_url(), task.id);
                        let body = texts::signing_reminder(&initiator.name, &task.title, &link);
                        SmsMessage::enqueue(conn, phone, &body, false, task.deadline).await?;
                        reminded.push(signer.id);
                    }
                }
            }
            Signer::set_reminded(conn, &reminded, now).await?;
            Ok::<_, AppError>(reminded.len())
        })
        .await?;
    if sent > 0 {
        svc.outbox.wake();
    }
    Ok(i32::try_from(sent).unwrap_or(i32::MAX))
}

/// Voids IN_PROGRESS tasks past their deadline (EXPIRED); several servers
/// may run it at once. How many were voided.
pub async fn expire_pass(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<usize> {
    conn.transaction(async |conn| {
        let now = svc.clock.now();
        let due = Task::claim_expired(conn, now, EXPIRY_PASS).await?;
        let ids: Vec<TaskId> = due.iter().map(|t| t.id).collect();
        let signers = Signer::of_tasks(conn, &ids).await?;
        for task in &due {
            Task::void(conn, task.id, VoidReason::Expired, None, now).await?;
            voided(conn, svc, task, &signers, Vec::new(), now).await?;
            record(
                conn,
                svc,
                task,
                None,
                "task.expire",
                serde_json::json!({ "deadline": task.deadline }),
            )
            .await?;
        }
        Ok(due.len())
    })
    .await
}
