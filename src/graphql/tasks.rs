//! Signing tasks in GraphQL, part 1: checking and initiating batches, the
//! batch and its tasks, frequent contacts and the quota balance.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::contacts::Contact as ContactRow;
use crate::db::enums::{self, DocumentStatus as DocStatus, SignOrder as Order};
use crate::db::ids::{ContactId, EnterpriseId};
use crate::db::tasks::{
    Batch as BatchRow, Document as DocumentRow, Signer as SignerRow, Task as TaskRow,
};
use crate::domain::contacts;
use crate::domain::tasks::initiate;
use crate::domain::tasks::plan::{
    BatchInput, EnterpriseSignerInput as DomainEnterpriseSigner, PersonSignerInput as DomainPerson,
    RowInput,
};
use crate::domain::tasks::values::Cell;
use crate::error::{AppError, RowError as DomainRowError};
use crate::graphql::accounts::User;
use crate::graphql::certification::EnterprisePublic;
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::enterprises::{BusinessType, PageInfo};
use crate::graphql::loaders::{
    BusinessTypesLoader, EnterprisesLoader, FilesLoader, TaskPartsLoader, TemplateLayoutLoader,
    TemplatesLoader, UsersLoader, load,
};
use crate::graphql::seals::File;
use crate::graphql::templates::{PageSize, PartyKind, SealSlot, SignerRole};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SignOrder {
    /// Every signer at once.
    Unordered,
    /// By step; signers sharing a step sign in parallel.
    Sequential,
}

impl From<SignOrder> for Order {
    fn from(order: SignOrder) -> Self {
        match order {
            SignOrder::Unordered => Self::Unordered,
            SignOrder::Sequential => Self::Sequential,
        }
    }
}

impl From<Order> for SignOrder {
    fn from(order: Order) -> Self {
        match order {
            Order::Unordered => Self::Unordered,
            Order::Sequential => Self::Sequential,
        }
    }
}

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

#[derive(SimpleObject)]
pub struct RowError {
    /// 1-based, as the rows were given.
    row: i32,
    /// The field key, or person.name, person.phone, person.idNumber.
    column: Option<String>,
    message: String,
}

impl From<DomainRowError> for RowError {
    fn from(e: DomainRowError) -> Self {
        Self {
            row: e.row,
            column: e.column,
            message: e.message,
        }
    }
}

#[derive(SimpleObject)]
pub struct BatchValidation {
    valid: bool,
    row_count: i32,
    errors: Vec<RowError>,
}

#[derive(SimpleObject)]
pub struct Contact {
    id: ID,
    name: String,
    phone: String,
    enterprise_name: Option<String>,
}

impl From<ContactRow> for Contact {
    fn from(c: ContactRow) -> Self {
        Self {
            id: ID(c.id.to_string()),
            name: c.name,
            phone: c.phone,
            enterprise_name: c.enterprise_name,
        }
    }
}

/// A party of one task.
pub struct Signer(SignerRow);

#[Object]
impl Signer {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn kind(&self) -> PartyKind {
        self.0.kind.into()
    }

    /// The enterprise's name, or the person's.
    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        match self.0.enterprise_id {
            Some(id) => Ok(load::<_, EnterprisesLoader>(ctx, id).await?.name),
            None => Ok(self.0.person_name.clone().unwrap_or_default()),
        }
    }

    async fn enterprise(&self, ctx: &Context<'_>) -> Result<Option<EnterprisePublic>> {
        match self.0.enterprise_id {
            Some(id) => Ok(Some((&load::<_, EnterprisesLoader>(ctx, id).await?).into())),
            None => Ok(None),
        }
    }

    async fn role(&self) -> SignerRole {
        SignerRole::of_signer(
            self.0.id.to_string(),
            &self.0.role_key,
            &self.0.role_name,
            self.0.kind,
        )
    }

    async fn step(&self) -> i32 {
        self.0.step
    }

    async fn can_refuse(&self) -> bool {
        self.0.can_refuse
    }

    async fn status(&self) -> SignerStatus {
        match self.0.status {
            enums::SignerStatus::Waiting => SignerStatus::Waiting,
            enums::SignerStatus::Pending => SignerStatus::Pending,
            enums::SignerStatus::Signed => SignerStatus::Signed,
            enums::SignerStatus::Refused => SignerStatus::Refused,
        }
    }

    async fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.0.signed_at
    }
}

/// One contract of a task, filled from its template.
pub struct TaskDocument {
    row: DocumentRow,
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
    async fn pages(&self, ctx: &Context<'_>) -> Result<Vec<PageSize>> {
        let template = load::<_, TemplatesLoader>(ctx, self.row.template_id).await?;
        Ok(PageSize::of(&template))
    }

    /// The contract as it stands (filled, then each signed revision); null
    /// until the fill job has filled it.
    async fn file(&self, ctx: &Context<'_>) -> Result<Option<File>> {
        match self.row.file_id {
            Some(id) => Ok(Some(File(load::<_, FilesLoader>(ctx, id).await?))),
            None => Ok(None),
        }
    }

    /// Where each role stamps (from the template).
    async fn seal_slots(&self, ctx: &Context<'_>) -> Result<Vec<SealSlot>> {
        let layout = load::<_, TemplateLayoutLoader>(ctx, self.row.template_id).await?;
        Ok(SealSlot::all(&layout))
    }
}

/// One task: one person's contracts with their signers.
pub struct SigningTask(pub TaskRow);

impl SigningTask {
    async fn parts(&self, ctx: &Context<'_>) -> Result<Arc<crate::graphql::loaders::TaskParts>> {
        Ok(load::<_, TaskPartsLoader>(ctx, self.0.id).await?)
    }

    async fn user(ctx: &Context<'_>, id: crate::db::ids::UserId) -> Result<User> {
        let viewer = ctx.request().viewer.map(|v| v.user_id);
        Ok(User::seen_by(
            load::<_, UsersLoader>(ctx, id).await?,
            viewer,
        ))
    }
}

#[Object]
impl SigningTask {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn business_type(&self, ctx: &Context<'_>) -> Result<BusinessType> {
        let types = load::<_, BusinessTypesLoader>(ctx, self.0.enterprise_id).await?;
        types
            .iter()
            .find(|(id, _)| *id == self.0.business_type_id)
            .cloned()
            .map(|bt| BusinessType::new(self.0.enterprise_id, bt))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("business type vanished")).into())
    }

    /// Visible only to the initiator, the handler, CC'd users and the ADMIN.
    async fn confidential(&self) -> bool {
        self.0.confidential
    }

    async fn status(&self) -> TaskStatus {
        match self.0.status {
            enums::TaskStatus::InProgress => TaskStatus::InProgress,
            enums::TaskStatus::Completed => TaskStatus::Completed,
            enums::TaskStatus::Voided => TaskStatus::Voided,
        }
    }

    async fn void_reason(&self) -> Option<VoidReason> {
        self.0.void_reason.map(|r| match r {
            enums::VoidReason::Expired => VoidReason::Expired,
            enums::VoidReason::Revoked => VoidReason::Revoked,
            enums::VoidReason::Refused => VoidReason::Refused,
        })
    }

    async fn void_note(&self) -> Option<&str> {
        self.0.void_note.as_deref()
    }

    async fn initiator(&self, ctx: &Context<'_>) -> Result<EnterprisePublic> {
        Ok((&load::<_, EnterprisesLoader>(ctx, self.0.enterprise_id).await?).into())
    }

    async fn initiated_by(&self, ctx: &Context<'_>) -> Result<User> {
        Self::user(ctx, self.0.initiated_by).await
    }

    /// 经办人.
    async fn handler(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.handler_id {
            Some(id) => Ok(Some(Self::user(ctx, id).await?)),
            None => Ok(None),
        }
    }

    async fn sign_order(&self) -> SignOrder {
        self.0.sign_order.into()
    }

    async fn deadline(&self) -> Option<DateTime<Utc>> {
        self.0.deadline
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }

    /// When the documents were filled and the first signers told; null
    /// before.
    async fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.0.ready_at
    }

    async fn signers(&self, ctx: &Context<'_>) -> Result<Vec<Signer>> {
        Ok(self
            .parts(ctx)
            .await?
            .signers
            .iter()
            .cloned()
            .map(Signer)
            .collect())
    }

    async fn documents(&self, ctx: &Context<'_>) -> Result<Vec<TaskDocument>> {
        Ok(self
            .parts(ctx)
            .await?
            .documents
            .iter()
            .cloned()
            .map(|row| TaskDocument { row })
            .collect())
    }

    async fn cc(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let parts = self.parts(ctx).await?;
        let mut users = Vec::with_capacity(parts.cc.len());
        for id in &parts.cc {
            users.push(Self::user(ctx, *id).await?);
        }
        Ok(users)
    }
}

#[derive(SimpleObject)]
pub struct TaskEdge {
    node: SigningTask,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct TaskConnection {
    edges: Vec<TaskEdge>,
    page_info: PageInfo,
    total_count: i64,
}

/// What one initiation made. Reached only through the initiation's answer.
pub struct SigningBatch(BatchRow);

#[Object]
impl SigningBatch {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn task_count(&self) -> i32 {
        self.0.task_count
    }

    /// Tasks whose documents are filled.
    async fn ready_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let mut conn = ctx.conn().await?;
        let progress = BatchRow::progress(&mut conn, &[self.0.id])
            .await
            .map_err(AppError::from)?;
        Ok(progress.first().map_or(0, |(_, _, ready)| *ready))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The batch's tasks in row order.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TaskConnection> {
        let after_row = match after {
            Some(cursor) => cursor
                .parse::<i32>()
                .map_err(|_| AppError::bad_input("after", "not a cursor of this list"))?,
            None => 0,
        };
        let limit = usize::try_from(first.unwrap_or(50).clamp(1, 500)).unwrap_or(50);
        let mut conn = ctx.conn().await?;
        let tasks = TaskRow::of_batch(&mut conn, self.0.id)
            .await
            .map_err(AppError::from)?;
        let total = tasks.len();
        let rest: Vec<TaskRow> = tasks
            .into_iter()
            .filter(|t| t.row_number > after_row)
            .collect();
        let has_next_page = rest.len() > limit;
        let edges: Vec<TaskEdge> = rest
            .into_iter()
            .take(limit)
            .map(|task| TaskEdge {
                cursor: task.row_number.to_string(),
                node: SigningTask(task),
            })
            .collect();
        Ok(TaskConnection {
            page_info: PageInfo {
                has_next_page,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
        })
    }
}

#[derive(InputObject)]
pub struct PersonInput {
    name: String,
    phone: String,
    id_number: Option<String>,
}

#[derive(InputObject)]
pub struct EnterpriseSignerInput {
    role_key: String,
    enterprise_id: ID,
    #[graphql(default = 1)]
    step: i32,
    #[graphql(default = false)]
    can_refuse: bool,
    cross_page_seal_id: Option<ID>,
}

#[derive(InputObject)]
pub struct PersonSignerInput {
    role_key: String,
    #[graphql(default = 1)]
    step: i32,
    #[graphql(default = false)]
    can_refuse: bool,
}

#[derive(InputObject)]
pub struct BatchRowInput {
    person: PersonInput,
    /// Field key -> value (string or number; dates as YYYY-MM-DD).
    values: Json<serde_json::Value>,
}

#[derive(InputObject)]
pub struct InitiateBatchInput {
    enterprise_id: ID,
    title: String,
    business_type_id: ID,
    #[graphql(default = false)]
    confidential: bool,
    handler_id: Option<ID>,
    template_ids: Vec<ID>,
    #[graphql(default = false)]
    add_page_qr_codes: bool,
    sign_order: SignOrder,
    deadline: Option<DateTime<Utc>>,
    enterprise_signers: Vec<EnterpriseSignerInput>,
    person_signer: PersonSignerInput,
    cc_user_ids: Option<Vec<ID>>,
    signer_completed_field_keys: Option<Vec<String>>,
    /// One row per employee (page-form mode).
    rows: Option<Vec<BatchRowInput>>,
    /// A retry with the same key returns the batch the first call made.
    idempotency_key: Option<String>,
}

fn ids<T: std::str::FromStr>(field: &str, ids: &[ID]) -> Result<Vec<T>, AppError> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id))
        .collect()
}

impl TryFrom<InitiateBatchInput> for BatchInput {
    type Error = AppError;

    fn try_from(input: InitiateBatchInput) -> Result<Self, AppError> {
        let given = input.rows.unwrap_or_default();
        let mut rows = Vec::with_capacity(given.len());
        for (i, row) in given.into_iter().enumerate() {
            let object = row.values.0.as_object().cloned().ok_or_else(|| {
                AppError::bad_input(
                    format!("input.rows[{i}].values"),
                    "an object of field key to value",
                )
            })?;
            let mut values = Vec::with_capacity(object.len());
            for (key, value) in object {
                match Cell::from_json(&value) {
                    Ok(Some(cell)) => values.push((key, cell)),
                    Ok(None) => {}
                    Err(message) => {
                        return Err(AppError::bad_input(
                            format!("input.rows[{i}].values.{key}"),
                            message,
                        ));
                    }
                }
            }
            rows.push(RowInput {
                name: row.person.name,
                phone: row.person.phone,
                id_number: row.person.id_number,
                values,
            });
        }
        let mut enterprise_signers = Vec::new();
        for (i, s) in input.enterprise_signers.into_iter().enumerate() {
            enterprise_signers.push(DomainEnterpriseSigner {
                role_key: s.role_key,
                enterprise: parse_id(
                    &format!("input.enterpriseSigners[{i}].enterpriseId"),
                    &s.enterprise_id,
                )?,
                step: s.step,
                can_refuse: s.can_refuse,
                cross_page_seal: s
                    .cross_page_seal_id
                    .map(|id| {
                        parse_id(
                            &format!("input.enterpriseSigners[{i}].crossPageSealId"),
                            &id,
                        )
                    })
                    .transpose()?,
            });
        }
        Ok(BatchInput {
            enterprise: parse_id("input.enterpriseId", &input.enterprise_id)?,
            title: input.title,
            business_type: parse_id("input.businessTypeId", &input.business_type_id)?,
            confidential: input.confidential,
            handler: input
                .handler_id
                .map(|id| parse_id("input.handlerId", &id))
                .transpose()?,
            templates: ids("input.templateIds", &input.template_ids)?,
            add_page_qr_codes: input.add_page_qr_codes,
            sign_order: input.sign_order.into(),
            deadline: input.deadline,
            enterprise_signers,
            person_signer: DomainPerson {
                role_key: input.person_signer.role_key,
                step: input.person_signer.step,
                can_refuse: input.person_signer.can_refuse,
            },
            cc: ids("input.ccUserIds", &input.cc_user_ids.unwrap_or_default())?,
            signer_completed_field_keys: input.signer_completed_field_keys.unwrap_or_default(),
            rows,
            idempotency_key: input.idempotency_key,
        })
    }
}

#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// Checks a batch without starting it: problems with the batch itself
    /// are errors; every problem of every row is listed.
    async fn validate_signing_batch(
        &self,
        ctx: &Context<'_>,
        input: InitiateBatchInput,
    ) -> Result<BatchValidation> {
        let viewer = ctx.viewer()?;
        let input = BatchInput::try_from(input)?;
        let mut conn = ctx.conn().await?;
        let plan = initiate::validate(&mut conn, &ctx.app().services(), &viewer, &input).await?;
        Ok(BatchValidation {
            valid: plan.errors.is_empty(),
            row_count: i32::try_from(plan.rows.len()).unwrap_or(i32::MAX),
            errors: plan.errors.into_iter().map(Into::into).collect(),
        })
    }
}

#[derive(Default)]
pub struct TasksMutation;

#[Object]
impl TasksMutation {
    /// Starts one task per row (each with one document per template), paid
    /// with one quota unit per task. An invalid batch is refused whole
    /// (BAD_USER_INPUT with extensions.rowErrors); QUOTA_EXHAUSTED when the
    /// balance cannot cover it. Documents fill in the background
    /// (`readyCount`); signers are told when their task is ready.
    async fn initiate_signing_batch(
        &self,
        ctx: &Context<'_>,
        input: InitiateBatchInput,
    ) -> Result<SigningBatch> {
        let viewer = ctx.viewer()?;
        let input = BatchInput::try_from(input)?;
        let mut conn = ctx.conn().await?;
        let batch = initiate::initiate(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            &input,
        )
        .await?;
        Ok(SigningBatch(batch))
    }

    /// A frequent contact of the enterprise (any member).
    async fn add_frequent_contact(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        name: String,
        phone: String,
        enterprise_name: Option<String>,
    ) -> Result<Contact> {
        let viewer = ctx.viewer()?;
        let enterprise = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let contact = contacts::add(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            enterprise,
            &name,
            &phone,
            enterprise_name.as_deref(),
        )
        .await?;
        Ok(contact.into())
    }

    async fn remove_frequent_contact(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let viewer = ctx.viewer()?;
        let id: ContactId = parse_id("id", &id)?;
        let mut conn = ctx.conn().await?;
        contacts::remove(&mut conn, &viewer, id).await?;
        Ok(true)
    }
}

/// `Enterprise.frequentContacts`.
pub async fn frequent_contacts(
    ctx: &Context<'_>,
    enterprise: EnterpriseId,
) -> Result<Vec<Contact>> {
    let viewer = ctx.viewer()?;
    let mut conn = ctx.conn().await?;
    Ok(contacts::list(&mut conn, &viewer, enterprise)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// `Enterprise.quotaBalance`.
pub async fn quota_balance(ctx: &Context<'_>, enterprise: EnterpriseId) -> Result<i32> {
    let mut conn = ctx.conn().await?;
    Ok(crate::db::quota::Quota::balance(&mut conn, enterprise)
        .await
        .map_err(AppError::from)?)
}
