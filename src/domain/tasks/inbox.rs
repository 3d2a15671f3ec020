//! Inboxes (待我签署, 待他人签署, 已完成, 已作废, 我发起的, 抄送我的) and the one
//! rule of who sees a task, written once as SQL conditions that every list,
//! count and lookup uses.
//!
//! Personal space: tasks where the viewer is the PERSON signer (by account,
//! or by phone until the row is linked to one), and CC'd tasks.
//! Enterprise space: tasks the enterprise signs or initiated. Its ADMIN
//! sees them all; a member sees the enterprise's own tasks of business
//! types it is granted (confidential ones only as initiator, handler or
//! CC'd) and, in TO_SIGN and for other enterprises' tasks, only those
//! whose seal slots for the enterprise's role it holds a granted seal for.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use crate::db::enterprises::Memberships;
use crate::db::enums::{MemberRole, SignerStatus, TaskStatus};
use crate::db::ids::{BusinessTypeId, EnterpriseId, TaskId};
use crate::db::tasks::{InboxQuery, Task};
use crate::db::users::User;
use crate::domain::Viewer;
use crate::domain::membership::member_of;
use crate::error::{AppError, AppResult};

/// The API's TaskBox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskBox {
    ToSign,
    WaitingForOthers,
    Completed,
    Voided,
    Initiated,
    Cc,
    /// Not an inbox: tasks in progress where the viewer may act for a
    /// signer, whatever that signer's turn (signing and refusing ask).
    Acting,
}

/// Where the viewer looks from.
#[derive(Debug, Clone, Copy)]
pub enum Space {
    Personal,
    Enterprise(EnterpriseId),
}

// Binds of every inbox query (see `db::tasks::InboxQuery`): $1 viewer,
// $2 enterprise, $3 viewer's phone, $4 search pattern, $5 business type,
// $6/$7 cursor, $8 limit, $9 one task.

const PERSON_SIGNER: &str = "EXISTS (SELECT 1 FROM task_signers s WHERE s.task_id = t.id \
     AND s.kind = 'PERSON' AND (s.user_id = $1 OR (s.user_id IS NULL AND s.person_phone = $3))";

const CC: &str = "EXISTS (SELECT 1 FROM task_cc c WHERE c.task_id = t.id AND c.user_id = $1)";

/// A member's business-type grant covers the enterprise's own task.
const GRANTED_TYPE: &str = "(t.enterprise_id <> $2 OR EXISTS (SELECT 1 FROM member_business_types g \
     WHERE g.enterprise_id = $2 AND g.user_id = $1 AND g.business_type_id = t.business_type_id))";

const CONFIDENTIAL: &str = "(NOT t.confidential OR t.enterprise_id <> $2 OR t.initiated_by = $1 \
     OR t.handler_id = $1 OR EXISTS (SELECT 1 FROM task_cc c WHERE c.task_id = t.id AND c.user_id = $1))";

/// The member holds a granted, enabled seal of a kind the enterprise's
/// role (signer `s`) stamps in one of the task's documents.
const HOLDS_SEAL: &str = "EXISTS (SELECT 1 FROM task_documents d \
     JOIN template_seal_slots ss ON ss.template_id = d.template_id \
     JOIN template_roles r ON r.id = ss.role_id AND r.key = s.role_key \
     JOIN seals se ON se.enterprise_id = $2 AND se.kind = ss.seal_kind AND se.status = 'ENABLED' \
     JOIN seal_grants sg ON sg.seal_id = se.id AND sg.user_id = $1 \
     WHERE d.task_id = t.id)";

/// The state a task and a signer must be in for the task to sit in
/// `task_box` (task condition, signer condition); None for the boxes that
/// do not follow the state. `boxes_of` is the same rule for events.
fn signer_status(task_box: TaskBox, rule: Rule) -> Option<(&'static str, &'static str)> {
    if rule == Rule::Eligible && task_box != TaskBox::Initiated && task_box != TaskBox::Cc {
        return Some(("TRUE", "TRUE"));
    }
    match task_box {
        TaskBox::ToSign => Some((
            "t.status = 'IN_PROGRESS' AND t.ready_at IS NOT NULL",
            "s.status = 'PENDING'",
        )),
        TaskBox::WaitingForOthers => Some(("t.status = 'IN_PROGRESS'", "s.status = 'SIGNED'")),
        TaskBox::Completed => Some(("t.status = 'COMPLETED'", "TRUE")),
        TaskBox::Voided => Some(("t.status = 'VOIDED'", "TRUE")),
        TaskBox::Acting => Some(("t.status = 'IN_PROGRESS'", "TRUE")),
        TaskBox::Initiated | TaskBox::Cc => None,
    }
}

/// Whether a condition asks for the task's current state, or only whether
/// the viewer would see the task in the box in some state (events of a
/// task leaving a box are delivered to exactly those viewers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Current,
    Eligible,
}

fn personal(task_box: TaskBox) -> String {
    personal_by(task_box, Rule::Current)
}

fn personal_by(task_box: TaskBox, rule: Rule) -> String {
    match signer_status(task_box, rule) {
        Some((task, signer)) => format!("{task} AND {PERSON_SIGNER} AND {signer})"),
        None if task_box == TaskBox::Cc => CC.to_owned(),
        // 我发起的 belongs to the enterprise space.
        None => "FALSE".to_owned(),
    }
}

fn enterprise(task_box: TaskBox, admin: bool) -> AppResult<String> {
    enterprise_by(task_box, admin, Rule::Current)
}

fn enterprise_by(task_box: TaskBox, admin: bool, rule: Rule) -> AppResult<String> {
    if task_box == TaskBox::Cc {
        return Err(AppError::bad_input(
            "box",
            "CC'd tasks are listed in the personal space (me.tasks)",
        ));
    }
    let Some((task, signer)) = signer_status(task_box, rule) else {
        // INITIATED
        return Ok(if admin {
            "t.enterprise_id = $2".to_owned()
        } else {
            format!("t.enterprise_id = $2 AND {GRANTED_TYPE} AND {CONFIDENTIAL}")
        });
    };
    let member = if admin {
        String::new()
    } else if matches!(task_box, TaskBox::ToSign | TaskBox::Acting) {
        format!(" AND {HOLDS_SEAL}")
    } else {
        format!(" AND (t.enterprise_id = $2 OR {HOLDS_SEAL})")
    };
    let filters = if admin {
        String::new()
    } else {
        format!(" AND {GRANTED_TYPE} AND {CONFIDENTIAL}")
    };
    Ok(format!(
        "{task}{filters} AND EXISTS (SELECT 1 FROM task_signers s WHERE s.task_id = t.id \
         AND s.enterprise_id = $2 AND {signer}{member})"
    ))
}

/// Every box at once: whether the viewer sees the task at all from `space`.
fn anywhere(space: Space, admin: bool) -> AppResult<String> {
    let boxes = match space {
        Space::Personal => vec![
            personal(TaskBox::ToSign),
            personal(TaskBox::WaitingForOthers),
            personal(TaskBox::Completed),
            personal(TaskBox::Voided),
            personal(TaskBox::Cc),
            // A person signer whose turn has not come yet still sees the task.
            format!("{PERSON_SIGNER})"),
        ],
        Space::Enterprise(_) => vec![
            enterprise(TaskBox::Initiated, admin)?,
            enterprise(TaskBox::ToSign, admin)?,
            enterprise(TaskBox::WaitingForOthers, admin)?,
            enterprise(TaskBox::Completed, admin)?,
            enterprise(TaskBox::Voided, admin)?,
            enterprise(TaskBox::Acting, admin)?,
        ],
    };
    Ok(format!("(({}))", boxes.join(") OR (")))
}

/// `%text%` for ILIKE, with the wildcards of `text` escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub struct ListInput {
    pub space: Space,
    pub task_box: TaskBox,
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, TaskId)>,
    pub search: Option<String>,
    pub business_type: Option<BusinessTypeId>,
}

/// The base binds for `viewer` in `space`, and whether it administers it.
async fn binds(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    space: Space,
) -> AppResult<(InboxQuery, bool)> {
    let user = User::find(conn, viewer.user_id).await?;
    let (enterprise, admin) = match space {
        Space::Personal => (None, false),
        Space::Enterprise(id) => {
            let (_, role) = member_of(conn, viewer, id).await?;
            (Some(id), role == MemberRole::Admin)
        }
    };
    Ok((
        InboxQuery {
            viewer: viewer.user_id,
            enterprise,
            phone: user.phone,
            search: None,
            business_type: None,
            after: None,
            limit: 0,
            task: None,
        },
        admin,
    ))
}

/// One page of a box and the box's total under the same rules.
pub async fn list(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    input: ListInput,
) -> AppResult<(Vec<Task>, i64)> {
    let (mut query, admin) = binds(conn, viewer, input.space).await?;
    let condition = match input.space {
        Space::Personal => personal(input.task_box),
        Space::Enterprise(_) => enterprise(input.task_box, admin)?,
    };
    query.search = input
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(like_pattern);
    query.business_type = input.business_type;
    let total = Task::count_where(conn, &condition, &query).await?;
    query.after = input.after;
    query.limit = input.limit;
    let page = Task::page_where(conn, &condition, &query).await?;
    Ok((page, total))
}

/// The task if the viewer sees it in `task_box` of `space`.
pub async fn find_in(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    space: Space,
    task_box: TaskBox,
    id: TaskId,
) -> AppResult<Option<Task>> {
    let (mut query, admin) = binds(conn, viewer, space).await?;
    query.task = Some(id);
    query.limit = 1;
    let condition = match space {
        Space::Personal => personal(task_box),
        Space::Enterprise(_) => enterprise(task_box, admin)?,
    };
    Ok(Task::page_where(conn, &condition, &query).await?.pop())
}

/// The condition under which a member who is not the ADMIN acts for its
/// enterprise on task `t` (the TO_SIGN rules without the signer's turn),
/// with the enterprise as `m.enterprise_id` instead of `$2`: for
/// `Memberships::in_task`, which reads it with the viewer's memberships.
pub fn member_acting() -> &'static str {
    static CONDITION: LazyLock<String> = LazyLock::new(|| {
        // Acting is never refused (only CC is, and only in this space); were
        // it ever, no member would act: the test below would fail.
        enterprise_by(TaskBox::Acting, false, Rule::Current).map_or_else(
            |_| "FALSE".to_owned(),
            |c| bind_placeholder(&c, "$2", "m.enterprise_id"),
        )
    });
    &CONDITION
}

/// `sql` with the placeholder `$n` (not `$n0`...) written as `expr`.
fn bind_placeholder(sql: &str, placeholder: &str, expr: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(placeholder) {
        let after = &rest[at + placeholder.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(placeholder);
        } else {
            out.push_str(expr);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Whether the viewer sees the task in `task_box` of `space` whenever the
/// task's state puts it there: who hears that it entered or left the box.
pub async fn eligible(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    space: Space,
    task_box: TaskBox,
    id: TaskId,
) -> AppResult<bool> {
    let (query, admin) = binds(conn, viewer, space).await?;
    let condition = match space {
        Space::Personal => personal_by(task_box, Rule::Eligible),
        Space::Enterprise(_) => enterprise_by(task_box, admin, Rule::Eligible)?,
    };
    Ok(Task::meets(conn, &condition, &query, id).await?)
}

/// The boxes a signer's side sees a task in, by the task's and the
/// signer's state: the same rule as `signer_status`, for events.
pub fn boxes_of(
    task: TaskStatus,
    ready: bool,
    signer: SignerStatus,
) -> impl Iterator<Item = TaskBox> {
    [
        (task == TaskStatus::InProgress && ready && signer == SignerStatus::Pending)
            .then_some(TaskBox::ToSign),
        (task == TaskStatus::InProgress && signer == SignerStatus::Signed)
            .then_some(TaskBox::WaitingForOthers),
        (task == TaskStatus::Completed).then_some(TaskBox::Completed),
        (task == TaskStatus::Voided).then_some(TaskBox::Voided),
    ]
    .into_iter()
    .flatten()
}

/// The task if the viewer sees it from its personal space or from any
/// enterprise it belongs to; NOT_FOUND otherwise.
pub async fn find(conn: &mut AsyncPgConnection, viewer: &Viewer, id: TaskId) -> AppResult<Task> {
    let mut spaces = vec![Space::Personal];
    for membership in Memberships::of_user(conn, viewer.user_id).await? {
        spaces.push(Space::Enterprise(membership.enterprise_id));
    }
    for space in spaces {
        let (mut query, admin) = binds(conn, viewer, space).await?;
        query.task = Some(id);
        query.limit = 1;
        let condition = anywhere(space, admin)?;
        if let Some(task) = Task::page_where(conn, &condition, &query).await?.pop() {
            return Ok(task);
        }
    }
    Err(AppError::NotFound("task"))
}

#[cfg(test)]
mod tests {
    use super::{Rule, TaskBox, bind_placeholder, enterprise_by, like_pattern, member_acting};

    #[test]
    fn search_text_is_literal() {
        assert_eq!(like_pattern("张_三%"), "%张\\_三\\%%");
    }

    #[test]
    fn the_member_acting_condition_binds_only_the_viewer() {
        let condition = member_acting();
        assert!(condition.contains("s.enterprise_id = m.enterprise_id"));
        assert!(
            condition.contains("sg.user_id = $1"),
            "the seal grant rule is in it"
        );
        // `Memberships::in_task` binds $1 (the viewer) and $2 (the task).
        for (at, _) in condition.match_indices('$') {
            let number: String = condition[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert_eq!(number, "1", "only $1 may be left in {condition}");
        }
        // Its outer query names memberships `m`; no rule may reuse it.
        let rule = enterprise_by(TaskBox::Acting, false, Rule::Current).unwrap();
        assert!(!rule.contains(" m ") && !rule.contains(" m."));
    }

    #[test]
    fn a_placeholder_is_bound_but_not_a_longer_one() {
        assert_eq!(
            bind_placeholder("$2 = $20 AND $2", "$2", "m.e"),
            "m.e = $20 AND m.e"
        );
    }
}
