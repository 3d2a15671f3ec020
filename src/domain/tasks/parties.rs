//! Who acts for a signer of a task: the person a row named (once verified
//! under that name, and that ID number where the row gave one), or a member
//! of a signing enterprise who holds a granted, enabled seal of a kind its
//! role stamps. Signing and refusing both ask here.

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use crate::db::enterprises::{Memberships, TaskMembership};
use crate::db::enums::{
    EnterpriseStatus, MemberRole, PartyKind, RealNameStatus, SignerStatus, TaskStatus,
};
use crate::db::ids::{EnterpriseId, TaskId};
use crate::db::tasks::{Signer, Task};
use crate::db::users::User;
use crate::domain::Viewer;
use crate::domain::tasks::inbox;
use crate::error::{AppError, AppResult};

/// The person signer of `task` the viewer (`user`) is, if the row named
/// the viewer's phone or account; FORBIDDEN until the viewer's verified
/// identity matches the row.
fn person(user: &User, task: &Task, signers: &[Signer]) -> AppResult<Option<Signer>> {
    let Some(signer) = signers.iter().find(|s| {
        s.task_id == task.id
            && s.kind == PartyKind::Person
            && (s.user_id == Some(user.id)
                || (s.user_id.is_none() && s.person_phone.as_deref() == Some(&user.phone)))
    }) else {
        return Ok(None);
    };
    if user.real_name_status != RealNameStatus::Verified {
        return Err(AppError::Forbidden(
            "complete real-name verification to act on this task",
        ));
    }
    let name_matches = user.name.as_deref() == signer.person_name.as_deref();
    let id_matches = signer
        .person_id_number_hash
        .as_ref()
        .is_none_or(|hash| user.id_number_hash.as_ref() == Some(hash));
    if !name_matches || !id_matches {
        return Err(AppError::Forbidden(
            "the task names another person than your verified identity",
        ));
    }
    Ok(Some(signer.clone()))
}

/// The enterprise signers of `task` the viewer may act for, whatever their
/// turn: the ADMIN, or members the TO_SIGN rules admit (the business-type
/// grant and a granted seal of a kind the role stamps), while the
/// enterprise is CERTIFIED.
fn enterprises(task: &Task, read: &Read) -> AppResult<Vec<(Signer, MemberRole)>> {
    let mut acting = Vec::new();
    for signer in read
        .signers
        .iter()
        .filter(|s| s.task_id == task.id && s.kind == PartyKind::Enterprise)
    {
        let Some(enterprise) = signer.enterprise_id else {
            continue;
        };
        let Some(membership) = read
            .memberships
            .iter()
            .find(|m| m.enterprise_id == enterprise)
        else {
            continue;
        };
        // The ADMIN acts for every signer of its enterprise in a task in
        // progress (the Acting rule without its member conditions).
        let visible = (membership.role == MemberRole::Admin
            && task.status == TaskStatus::InProgress)
            || membership.member_acts;
        if visible {
            if membership.status != EnterpriseStatus::Certified {
                return Err(AppError::Conflict(
                    "the enterprise must be certified (again) before it signs".into(),
                ));
            }
            acting.push((signer.clone(), membership.role));
        }
    }
    Ok(acting)
}

/// What the turn checks read about a task and the viewer.
struct Read {
    signers: Vec<Signer>,
    user: User,
    /// The viewer's role in each enterprise signing the task, the
    /// enterprise's status, and whether the member rules let the viewer
    /// act for it.
    memberships: Vec<TaskMembership>,
}

/// What the turn checks on task `id` need, in one round trip (statements
/// on a shared connection are pipelined).
async fn read(conn: &AsyncPgConnection, viewer: &Viewer, id: TaskId) -> QueryResult<Read> {
    let ids = [id];
    let (signers, user, memberships) = futures_util::try_join!(
        Signer::of_tasks(conn, &ids),
        User::find(conn, viewer.user_id),
        Memberships::in_task(conn, id, viewer.user_id, inbox::member_acting()),
    )?;
    Ok(Read {
        signers,
        user,
        memberships,
    })
}

/// Whose turn the viewer may take on a task, and what was read to know it.
pub struct Turn {
    /// The pending signers the viewer acts for.
    pub signers: Vec<Signer>,
    /// The viewer's account.
    pub user: User,
    /// The viewer's role in each enterprise it acts for.
    pub roles: Vec<(EnterpriseId, MemberRole)>,
}

impl Turn {
    pub fn role_in(&self, enterprise: EnterpriseId) -> Option<MemberRole> {
        self.roles
            .iter()
            .find(|(e, _)| *e == enterprise)
            .map(|(_, role)| *role)
    }
}

/// The signers of a ready, in-progress task the viewer acts for and whose
/// turn it is; FORBIDDEN or CONFLICT otherwise.
pub async fn pending(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    task: &Task,
) -> AppResult<Turn> {
    open(task)?;
    let read = read(conn, viewer, task.id).await?;
    turn(task, read)
}

fn open(task: &Task) -> AppResult<()> {
    if task.status != TaskStatus::InProgress || task.ready_at.is_none() {
        return Err(AppError::Conflict("the task cannot be signed now".into()));
    }
    Ok(())
}

fn turn(task: &Task, read: Read) -> AppResult<Turn> {
    let mut acting: Vec<Signer> = person(&read.user, task, &read.signers)?
        .into_iter()
        .collect();
    let mut roles = Vec::new();
    for (signer, role) in enterprises(task, &read)? {
        if let Some(enterprise) = signer.enterprise_id {
            roles.push((enterprise, role));
        }
        acting.push(signer);
    }
    if acting.is_empty() {
        return Err(AppError::Forbidden(
            "only a signer of this task may sign it",
        ));
    }
    let pending: Vec<Signer> = acting
        .into_iter()
        .filter(|s| s.status == SignerStatus::Pending)
        .collect();
    if pending.is_empty() {
        return Err(AppError::Conflict(
            "it is not your turn on this task".into(),
        ));
    }
    Ok(Turn {
        signers: pending,
        user: read.user,
        roles,
    })
}

/// `pending` for the task `id`; someone who does not see the task at all
/// gets NOT_FOUND, not the reason (the visibility query runs only then).
pub async fn pending_or_hidden(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TaskId,
) -> AppResult<(Task, Turn)> {
    let (task, read) = futures_util::try_join!(Task::find(conn, id), read(conn, viewer, id))?;
    let task = task.ok_or(AppError::NotFound("task"))?;
    let checked = match open(&task) {
        Ok(()) => turn(&task, read),
        Err(refused) => Err(refused),
    };
    match checked {
        Ok(turn) => Ok((task, turn)),
        Err(refused) => {
            inbox::find(conn, viewer, task.id).await?;
            Err(refused)
        }
    }
}
