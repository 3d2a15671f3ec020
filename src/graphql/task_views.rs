//! SigningTask, Signer and TaskDocument in GraphQL. A list of tasks loads
//! everything its nested fields show in one fixed set of queries
//! (`TaskData::load`), whatever the page size: no resolver below a task
//! touches the database.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use crate::db::enterprises::{BusinessTypes, Enterprise};
use crate::db::enums::{self, DocumentStatus as DocStatus};
use crate::db::files::StoredFile;
use crate::db::ids::{BusinessTypeId, EnterpriseId, FileId, SignerId, TaskId, TemplateId, UserId};
use crate::db::tasks::{Document as DocumentRow, Signer as SignerRow, Task as TaskRow, cc_of};
use crate::db::templates::{Layout, Template};
use crate::db::users::User as UserRow;
use crate::error::{AppError, AppResult};
use crate::graphql::accounts::User;
use crate::graphql::certification::EnterprisePublic;
use crate::graphql::context::ContextExt;
use crate::graphql::enterprises::{BusinessType, PageInfo};
use crate::graphql::seals::File;
use crate::graphql::tasks::SignOrder;
use crate::graphql::templates::{PageSize, PartyKind, SealSlot, SignerRole};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TaskStatus {
    InProgress,
    Completed,
    Voided,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum VoidReason {
    Expired,
    Revoked,
    Refused,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SignerStatus {
    /// Waits for an earlier step (or for the documents to be filled).
    Waiting,
    /// May sign now.
    Pending,
    Signed,
    Refused,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DocumentStatus {
    InProgress,
    Completed,
    Voided,
}

/// Everything the tasks of one list show, loaded together.
#[derive(Default)]
pub struct TaskData {
    signers: HashMap<TaskId, Vec<SignerRow>>,
    documents: HashMap<TaskId, Vec<DocumentRow>>,
    cc: HashMap<TaskId, Vec<UserId>>,
    enterprises: HashMap<EnterpriseId, Enterprise>,
    users: HashMap<UserId, UserRow>,
    templates: HashMap<TemplateId, Template>,
    layouts: HashMap<TemplateId, Arc<Layout>>,
    files: HashMap<FileId, StoredFile>,
    business_types: HashMap<BusinessTypeId, String>,
}

impl TaskData {
    /// The data of `tasks` in twelve queries.
    pub async fn load(conn: &mut AsyncPgConnection, tasks: &[TaskRow]) -> AppResult<Arc<TaskData>> {
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        let mut data = TaskData::default();
        for signer in crate::db::tasks::Signer::of_tasks(conn, &ids).await? {
            data.signers.entry(signer.task_id).or_default().push(signer);
        }
        for document in crate::db::tasks::Document::of_tasks(conn, &ids).await? {
            data.documents
                .entry(document.task_id)
                .or_default()
                .push(document);
        }
        for (task, user) in cc_of(conn, &ids).await? {
            data.cc.entry(task).or_default().push(user);
        }
        let mut enterprises: Vec<EnterpriseId> = tasks.iter().map(|t| t.enterprise_id).collect();
        enterprises.extend(
            data.signers
                .values()
                .flatten()
                .filter_map(|s| s.enterprise_id),
        );
        enterprises.sort_by_key(|e| e.0);
        enterprises.dedup();
        data.enterprises = Enterprise::find_many(conn, &enterprises)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let mut users: Vec<UserId> = tasks.iter().map(|t| t.initiated_by).collect();
        users.extend(tasks.iter().filter_map(|t| t.handler_id));
        users.extend(data.cc.values().flatten().copied());
        data.users = UserRow::find_many(conn, &users)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut templates: Vec<TemplateId> = data
            .documents
            .values()
            .flatten()
            .map(|d| d.template_id)
            .collect();
        templates.sort_by_key(|t| t.0);
        templates.dedup();
        data.templates = Template::find_many(conn, &templates)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        data.layouts = Layout::of(conn, &templates)
            .await?
            .into_iter()
            .map(|(id, layout)| (id, Arc::new(layout)))
            .collect();
        let files: Vec<FileId> = data
            .documents
            .values()
            .flatten()
            .filter_map(|d| d.file_id)
            .collect();
        data.files = StoredFile::find_many(conn, &files)
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        let initiators: Vec<EnterpriseId> = tasks.iter().map(|t| t.enterprise_id).collect();
        data.business_types = BusinessTypes::of_many(conn, &initiators)
            .await?
            .into_iter()
            .map(|(_, id, name)| (id, name))
            .collect();
        Ok(Arc::new(data))
    }

    fn enterprise(&self, id: EnterpriseId) -> Result<&Enterprise> {
        self.enterprises
            .get(&id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("enterprise {id} not loaded")).into())
    }

    fn user(&self, ctx: &Context<'_>, id: UserId) -> Result<User> {
        let row = self
            .users
            .get(&id)
            .cloned()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("user {id} not loaded")))?;
        Ok(User::seen_by(row, ctx.request().viewer.map(|v| v.user_id)))
    }
}

/// Tasks wrapped with their data.
/// The fields of SigningTask that read the prefetched data.
const NEEDS_DATA: [&str; 7] = [
    "businessType",
    "initiator",
    "initiatedBy",
    "handler",
    "signers",
    "documents",
    "cc",
];

/// `views` for a field that returns tasks, skipping the prefetch when the
/// client selected none of the fields that read it (an integrator asking
/// `signTask { id status }` costs no twelve queries).
pub async fn views_for(
    ctx: &Context<'_>,
    conn: &mut AsyncPgConnection,
    tasks: Vec<TaskRow>,
) -> AppResult<Vec<SigningTask>> {
    let selection = ctx.look_ahead();
    if NEEDS_DATA.iter().any(|f| selection.field(f).exists()) {
        return views(conn, tasks).await;
    }
    Ok(sharing(tasks, Arc::new(TaskData::default())))
}

/// One task's view, prefetching only what the selection reads.
pub async fn view_for(
    ctx: &Context<'_>,
    conn: &mut AsyncPgConnection,
    task: TaskRow,
) -> AppResult<SigningTask> {
    views_for(ctx, conn, vec![task])
        .await?
        .pop()
        .ok_or(AppError::NotFound("task"))
}

pub async fn views(
    conn: &mut AsyncPgConnection,
    tasks: Vec<TaskRow>,
) -> AppResult<Vec<SigningTask>> {
    let data = TaskData::load(conn, &tasks).await?;
    Ok(sharing(tasks, data))
}

/// The views of `tasks`, all reading from `data`.
fn sharing(tasks: Vec<TaskRow>, data: Arc<TaskData>) -> Vec<SigningTask> {
    tasks
        .into_iter()
        .map(|row| SigningTask {
            row,
            data: data.clone(),
        })
        .collect()
}

/// A party of one task.
pub struct Signer {
    row: SignerRow,
    data: Arc<TaskData>,
}

#[Object]
impl Signer {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn kind(&self) -> PartyKind {
        self.row.kind.into()
    }

    /// The enterprise's name, or the person's.
    async fn name(&self) -> Result<String> {
        match self.row.enterprise_id {
            Some(id) => Ok(self.data.enterprise(id)?.name.clone()),
            None => Ok(self.row.person_name.clone().unwrap_or_default()),
        }
    }

    async fn enterprise(&self) -> Result<Option<EnterprisePublic>> {
        self.row
            .enterprise_id
            .map(|id| self.data.enterprise(id).map(Into::into))
            .transpose()
    }

    async fn role(&self) -> SignerRole {
        SignerRole::of_signer(
            self.row.id.to_string(),
            &self.row.role_key,
            &self.row.role_name,
            self.row.kind,
        )
    }

    async fn step(&self) -> i32 {
        self.row.step
    }

    async fn can_refuse(&self) -> bool {
        self.row.can_refuse
    }

    async fn status(&self) -> SignerStatus {
        match self.row.status {
            enums::SignerStatus::Waiting => SignerStatus::Waiting,
            enums::SignerStatus::Pending => SignerStatus::Pending,
            enums::SignerStatus::Signed => SignerStatus::Signed,
            enums::SignerStatus::Refused => SignerStatus::Refused,
        }
    }

    async fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.row.signed_at
    }
}

/// One contract of a task, filled from its template.
pub struct TaskDocument {
    row: DocumentRow,
    data: Arc<TaskData>,
}

#[Object]
impl TaskDocument {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    async fn status(&self) -> DocumentStatus {
        match self.row.status {
            DocStatus::InProgress => DocumentStatus::InProgress,
            DocStatus::Completed => DocumentStatus::Completed,
            DocStatus::Voided => DocumentStatus::Voided,
        }
    }

    /// The template's pages (filling never adds any).
    async fn pages(&self) -> Vec<PageSize> {
        self.data
            .templates
            .get(&self.row.template_id)
            .map(PageSize::of)
            .unwrap_or_default()
    }

    /// The contract as it stands (filled, then each signed revision); null
    /// until the fill job has filled it.
    async fn file(&self) -> Option<File> {
        self.row
            .file_id
            .and_then(|id| self.data.files.get(&id).cloned())
            .map(File)
    }

    /// Where each role stamps (from the template).
    async fn seal_slots(&self) -> Vec<SealSlot> {
        self.data
            .layouts
            .get(&self.row.template_id)
            .map(SealSlot::all)
            .unwrap_or_default()
    }
}

/// One task: one person's contracts with their signers.
#[derive(Clone)]
pub struct SigningTask {
    pub row: TaskRow,
    data: Arc<TaskData>,
}

impl SigningTask {
    /// One of the task's signers, as `signers` shows it.
    pub fn signer(&self, id: SignerId) -> Option<Signer> {
        self.data
            .signers
            .get(&self.row.id)?
            .iter()
            .find(|s| s.id == id)
            .map(|row| Signer {
                row: row.clone(),
                data: self.data.clone(),
            })
    }
}

#[Object]
impl SigningTask {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.row.title
    }

    async fn business_type(&self) -> Result<BusinessType> {
        let name = self
            .data
            .business_types
            .get(&self.row.business_type_id)
            .cloned()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("business type not loaded")))?;
        Ok(BusinessType::new(
            self.row.enterprise_id,
            (self.row.business_type_id, name),
        ))
    }

    /// Visible only to the initiator, the handler, CC'd users and the ADMIN.
    async fn confidential(&self) -> bool {
        self.row.confidential
    }

    async fn status(&self) -> TaskStatus {
        match self.row.status {
            enums::TaskStatus::InProgress => TaskStatus::InProgress,
            enums::TaskStatus::Completed => TaskStatus::Completed,
            enums::TaskStatus::Voided => TaskStatus::Voided,
        }
    }

    async fn void_reason(&self) -> Option<VoidReason> {
        self.row.void_reason.map(|r| match r {
            enums::VoidReason::Expired => VoidReason::Expired,
            enums::VoidReason::Revoked => VoidReason::Revoked,
            enums::VoidReason::Refused => VoidReason::Refused,
        })
    }

    async fn void_note(&self) -> Option<&str> {
        self.row.void_note.as_deref()
    }

    async fn initiator(&self) -> Result<EnterprisePublic> {
        Ok(self.data.enterprise(self.row.enterprise_id)?.into())
    }

    async fn initiated_by(&self, ctx: &Context<'_>) -> Result<User> {
        self.data.user(ctx, self.row.initiated_by)
    }

    /// 经办人.
    async fn handler(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        self.row
            .handler_id
            .map(|id| self.data.user(ctx, id))
            .transpose()
    }

    async fn sign_order(&self) -> SignOrder {
        self.row.sign_order.into()
    }

    async fn deadline(&self) -> Option<DateTime<Utc>> {
        self.row.deadline
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at
    }

    /// When the documents were filled and the first signers told; null
    /// before.
    async fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.row.ready_at
    }

    async fn signers(&self) -> Vec<Signer> {
        self.data
            .signers
            .get(&self.row.id)
            .into_iter()
            .flatten()
            .map(|row| Signer {
                row: row.clone(),
                data: self.data.clone(),
            })
            .collect()
    }

    async fn documents(&self) -> Vec<TaskDocument> {
        self.data
            .documents
            .get(&self.row.id)
            .into_iter()
            .flatten()
            .map(|row| TaskDocument {
                row: row.clone(),
                data: self.data.clone(),
            })
            .collect()
    }

    async fn cc(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        self.data
            .cc
            .get(&self.row.id)
            .into_iter()
            .flatten()
            .map(|id| self.data.user(ctx, *id))
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct TaskEdge {
    pub node: SigningTask,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct TaskConnection {
    pub edges: Vec<TaskEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

/// A connection of `rows` with their data, cursors from `cursor`.
pub async fn connection(
    ctx: &Context<'_>,
    rows: Vec<TaskRow>,
    has_next_page: bool,
    total_count: i64,
    cursor: impl Fn(&TaskRow) -> String,
) -> Result<TaskConnection> {
    let cursors: Vec<String> = rows.iter().map(&cursor).collect();
    let mut conn = ctx.conn().await?;
    let edges: Vec<TaskEdge> = views(&mut conn, rows)
        .await?
        .into_iter()
        .zip(cursors)
        .map(|(node, cursor)| TaskEdge { node, cursor })
        .collect();
    Ok(TaskConnection {
        page_info: PageInfo {
            has_next_page,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total_count,
    })
}
