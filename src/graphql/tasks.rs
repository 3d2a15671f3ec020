//! Signing tasks in GraphQL, part 1: checking and initiating batches, the
//! batch and its tasks, frequent contacts and the quota balance.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use crate::db::contacts::Contact as ContactRow;
use crate::db::enums::SignOrder as Order;
use crate::db::ids::{ContactId, EnterpriseId};
use crate::db::tasks::{Batch as BatchRow, Task as TaskRow};
use crate::domain::contacts;
use crate::domain::tasks::plan::{
    BatchInput, EnterpriseSignerInput as DomainEnterpriseSigner, PersonSignerInput as DomainPerson,
    RowInput, Rows,
};
use crate::domain::tasks::sheet::MAX_SHEET_BYTES;
use crate::domain::tasks::values::Cell;
use crate::domain::tasks::{inbox, initiate, lifecycle};
use crate::error::{AppError, RowError as DomainRowError};
use crate::graphql::context::{ContextExt, decode_time_cursor, parse_id, read_upload, time_cursor};
use crate::graphql::seals::File;
use crate::graphql::task_views::{SigningTask, TaskConnection, connection, view_for, views};

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

/// The inboxes of the manual (section 2.5.1.4 on).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TaskBox {
    /// 待我签署: the viewer's (or the enterprise's) turn.
    ToSign,
    /// 待他人签署: signed, others still to sign.
    WaitingForOthers,
    /// 已完成签署
    Completed,
    /// 已作废
    Voided,
    /// 我发起的 (enterprise space)
    Initiated,
    /// 抄送我的 (personal space)
    Cc,
}

impl From<TaskBox> for inbox::TaskBox {
    fn from(b: TaskBox) -> Self {
        match b {
            TaskBox::ToSign => Self::ToSign,
            TaskBox::WaitingForOthers => Self::WaitingForOthers,
            TaskBox::Completed => Self::Completed,
            TaskBox::Voided => Self::Voided,
            TaskBox::Initiated => Self::Initiated,
            TaskBox::Cc => Self::Cc,
        }
    }
}

/// `me.tasks` and `enterprise(id).tasks`: one page of a box.
pub async fn tasks_in(
    ctx: &Context<'_>,
    space: inbox::Space,
    task_box: TaskBox,
    first: Option<i32>,
    after: Option<String>,
    search: Option<String>,
    business_type_id: Option<ID>,
) -> Result<TaskConnection> {
    let viewer = ctx.viewer()?;
    let after = after.map(|c| decode_time_cursor(&c)).transpose()?;
    let business_type = business_type_id
        .map(|id| parse_id("businessTypeId", &id))
        .transpose()?;
    if search.as_ref().is_some_and(|s| s.chars().count() > 50) {
        return Err(AppError::bad_input("search", "search with at most 50 characters").into());
    }
    let limit = i64::from(first.unwrap_or(20).clamp(1, 100));
    let mut conn = ctx.conn().await?;
    let (mut rows, total) = inbox::list(
        &mut conn,
        &viewer,
        inbox::ListInput {
            space,
            task_box: task_box.into(),
            limit: limit + 1,
            after,
            search,
            business_type,
        },
    )
    .await?;
    drop(conn);
    let has_next_page = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(100));
    connection(ctx, rows, has_next_page, total, |t| {
        time_cursor(t.created_at, t.id)
    })
    .await
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
        drop(conn);
        let has_next_page = rest.len() > limit;
        let page: Vec<TaskRow> = rest.into_iter().take(limit).collect();
        connection(
            ctx,
            page,
            has_next_page,
            i64::try_from(total).unwrap_or(i64::MAX),
            |t| t.row_number.to_string(),
        )
        .await
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
    /// One row per employee (page-form mode), or:
    rows: Option<Vec<BatchRowInput>>,
    /// The filled sheet of batchSheetTemplate (Excel mode); exactly one of
    /// rows and sheet.
    sheet: Option<Upload>,
    /// A retry with the same key returns the batch the first call made.
    idempotency_key: Option<String>,
}

fn ids<T: std::str::FromStr>(field: &str, ids: &[ID]) -> Result<Vec<T>, AppError> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("{field}[{i}]"), id))
        .collect()
}

/// The domain's input; a sheet is read from its upload.
async fn batch_input(
    ctx: &Context<'_>,
    mut input: InitiateBatchInput,
) -> Result<BatchInput, AppError> {
    let sheet = match input.sheet.take() {
        Some(upload) => {
            if input.rows.is_some() {
                return Err(AppError::bad_input(
                    "input.sheet",
                    "give rows or a sheet, not both",
                ));
            }
            let (_, bytes) = read_upload(ctx, "input.sheet", &upload, MAX_SHEET_BYTES).await?;
            Some(bytes)
        }
        None => None,
    };
    let mut batch = BatchInput::try_from(input)?;
    if let Some(bytes) = sheet {
        batch.rows = Rows::Sheet(bytes);
    }
    Ok(batch)
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
                number: i32::try_from(i + 1).unwrap_or(i32::MAX),
                name: row.person.name,
                phone: row.person.phone,
                id_number: row.person.id_number.map(Cell::Text),
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
            rows: Rows::Form(rows),
            idempotency_key: input.idempotency_key,
        })
    }
}

/// Where a page carrying a QR code (防抽页) belongs.
#[derive(SimpleObject)]
pub struct PageTrace {
    document_id: ID,
    document_name: String,
    task_title: String,
    page: i32,
    page_count: i32,
}

#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// The document, task and page a page's QR code names (no login: the
    /// code is on the paper). NOT_FOUND for any other code.
    async fn page_trace(&self, ctx: &Context<'_>, code: String) -> Result<Option<PageTrace>> {
        let mut conn = ctx.conn().await?;
        let trace =
            crate::domain::page_codes::trace(&mut conn, &ctx.app().services(), &code).await?;
        Ok(Some(PageTrace {
            document_id: ID(trace.document_id.to_string()),
            document_name: trace.document_name,
            task_title: trace.task_title,
            page: trace.page,
            page_count: trace.page_count,
        }))
    }

    /// A task the viewer sees from its personal space or an enterprise it
    /// belongs to (NOT_FOUND otherwise).
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SigningTask>> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let mut conn = ctx.conn().await?;
        let task = inbox::find(&mut conn, &viewer, id).await?;
        Ok(views(&mut conn, vec![task]).await?.pop())
    }

    /// Checks a batch without starting it: problems with the batch itself
    /// are errors; every problem of every row is listed.
    async fn validate_signing_batch(
        &self,
        ctx: &Context<'_>,
        input: InitiateBatchInput,
    ) -> Result<BatchValidation> {
        let viewer = ctx.viewer()?;
        let input = batch_input(ctx, input).await?;
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
        let input = batch_input(ctx, input).await?;
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

    /// The .xlsx to fill for a batch of `templateIds` (Excel mode): one
    /// column per field the initiator fills (a hidden first row keeps the
    /// keys), the person's columns, every column as text, the enterprise's
    /// fixed information in the first data row.
    async fn batch_sheet_template(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        template_ids: Vec<ID>,
        signer_completed_field_keys: Option<Vec<String>>,
    ) -> Result<File> {
        let viewer = ctx.viewer()?;
        let enterprise = parse_id("enterpriseId", &enterprise_id)?;
        let templates = ids("templateIds", &template_ids)?;
        let mut conn = ctx.conn().await?;
        let file = initiate::sheet_template(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            enterprise,
            &templates,
            &signer_completed_field_keys.unwrap_or_default(),
        )
        .await?;
        Ok(File(file))
    }

    /// The contract row `row` (as row errors number it) of the batch would
    /// get from `templateId`, filled: what the initiator checks before
    /// starting.
    async fn preview_signing_document(
        &self,
        ctx: &Context<'_>,
        input: InitiateBatchInput,
        row: i32,
        template_id: ID,
    ) -> Result<File> {
        let viewer = ctx.viewer()?;
        let template = parse_id("templateId", &template_id)?;
        let input = batch_input(ctx, input).await?;
        let mut conn = ctx.conn().await?;
        let file = initiate::preview_document(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            &input,
            row,
            template,
        )
        .await?;
        Ok(File(file))
    }

    /// Voids IN_PROGRESS tasks of the viewer's initiating side (at most 100;
    /// REVOKED); signers who have not signed can no longer sign. A task
    /// nobody had signed gives its quota unit back.
    async fn revoke_tasks(
        &self,
        ctx: &Context<'_>,
        task_ids: Vec<ID>,
        reason: String,
    ) -> Result<Vec<SigningTask>> {
        let viewer = ctx.viewer()?;
        let ids = ids("taskIds", &task_ids)?;
        let mut conn = ctx.conn().await?;
        let tasks = lifecycle::revoke(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            &ids,
            &reason,
        )
        .await?;
        Ok(views(&mut conn, tasks).await?)
    }

    /// 意愿认证: a code to the viewer's own phone for signing `taskId`
    /// (whose turn it must be); single use, five minutes.
    async fn send_signing_code(
        &self,
        ctx: &Context<'_>,
        task_id: ID,
    ) -> Result<crate::graphql::accounts::SendCodeResult> {
        let viewer = ctx.viewer()?;
        let id = parse_id("taskId", &task_id)?;
        let mut conn = ctx.conn().await?;
        let sent = crate::domain::tasks::intent::send(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
        )
        .await?;
        Ok(sent.into())
    }

    /// 拒签: a pending signer allowed to refuse ends the task (VOIDED,
    /// REFUSED); everyone involved is told.
    async fn refuse_task(
        &self,
        ctx: &Context<'_>,
        task_id: ID,
        reason: String,
    ) -> Result<SigningTask> {
        let viewer = ctx.viewer()?;
        let id = parse_id("taskId", &task_id)?;
        let mut conn = ctx.conn().await?;
        let task = lifecycle::refuse(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &reason,
        )
        .await?;
        Ok(view_for(ctx, &mut conn, task).await?)
    }

    /// 催办: an SMS to each pending signer not reminded in the last hour;
    /// how many were sent.
    async fn remind_signers(&self, ctx: &Context<'_>, task_ids: Vec<ID>) -> Result<i32> {
        let viewer = ctx.viewer()?;
        let ids = ids("taskIds", &task_ids)?;
        let mut conn = ctx.conn().await?;
        Ok(lifecycle::remind(&mut conn, &ctx.app().services(), &viewer, &ids).await?)
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
