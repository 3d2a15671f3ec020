//! Signing batches, tasks, their signers, documents and CC'd users
//! (`signing_batches`, `signing_tasks`, `task_signers`, `task_documents`,
//! `task_cc`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

use crate::db::enums::{
    DocumentStatus, PartyKind, SignOrder, SignerStatus, TaskStatus, VoidReason,
};
use crate::db::ids::{
    BatchId, BusinessTypeId, DocumentId, EnterpriseId, FileId, SealId, SignerId, TaskId,
    TemplateId, UserId,
};
use crate::db::schema::{
    files, signing_batches, signing_tasks, task_cc, task_documents, task_signers,
};

/// Rows written per INSERT: PostgreSQL takes at most 65,535 parameters.
const INSERT_CHUNK: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_batches, check_for_backend(diesel::pg::Pg))]
pub struct Batch {
    pub id: BatchId,
    pub enterprise_id: EnterpriseId,
    pub business_type_id: BusinessTypeId,
    pub title: String,
    pub initiated_by: UserId,
    pub idempotency_key: Option<String>,
    pub input_sha256: String,
    pub task_count: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = signing_tasks, check_for_backend(diesel::pg::Pg))]
pub struct Task {
    pub id: TaskId,
    pub batch_id: BatchId,
    pub row_number: i32,
    pub enterprise_id: EnterpriseId,
    pub business_type_id: BusinessTypeId,
    pub title: String,
    pub confidential: bool,
    pub status: TaskStatus,
    pub void_reason: Option<VoidReason>,
    pub void_note: Option<String>,
    pub initiated_by: UserId,
    pub handler_id: Option<UserId>,
    pub sign_order: SignOrder,
    pub deadline: Option<DateTime<Utc>>,
    pub add_page_qr_codes: bool,
    pub values_enc: Vec<u8>,
    pub signer_completed_field_keys: Vec<String>,
    pub ready_at: Option<DateTime<Utc>>,
    pub fill_attempts: i32,
    pub fill_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub all_signed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = task_signers, check_for_backend(diesel::pg::Pg))]
pub struct Signer {
    pub id: SignerId,
    pub task_id: TaskId,
    pub position: i32,
    pub kind: PartyKind,
    pub role_key: String,
    pub role_name: String,
    pub step: i32,
    pub can_refuse: bool,
    pub status: SignerStatus,
    pub enterprise_id: Option<EnterpriseId>,
    pub cross_page_seal_id: Option<SealId>,
    pub user_id: Option<UserId>,
    pub person_name: Option<String>,
    pub person_phone: Option<String>,
    pub person_id_number_hash: Option<Vec<u8>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub refused_at: Option<DateTime<Utc>>,
    pub refuse_reason: Option<String>,
    pub reminded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = task_documents, check_for_backend(diesel::pg::Pg))]
pub struct Document {
    pub id: DocumentId,
    pub task_id: TaskId,
    pub position: i32,
    pub template_id: TemplateId,
    pub name: String,
    pub status: DocumentStatus,
    pub file_id: Option<FileId>,
    pub page_count: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The binds of an inbox query; the visibility condition (SQL written by
/// the tasks domain) refers to them as $1..$9.
pub struct InboxQuery {
    /// $1
    pub viewer: UserId,
    /// $2: the enterprise space, None in the personal space.
    pub enterprise: Option<EnterpriseId>,
    /// $3: the viewer's phone (person signers not linked to an account yet).
    pub phone: String,
    /// $4: an ILIKE pattern over the title and the signers' names.
    pub search: Option<String>,
    /// $5
    pub business_type: Option<BusinessTypeId>,
    /// $6, $7: list after this (created_at, id).
    pub after: Option<(DateTime<Utc>, TaskId)>,
    /// $8
    pub limit: i64,
    /// $9: only this task.
    pub task: Option<TaskId>,
}

const INBOX_FILTERS: &str = " AND ($4::text IS NULL OR t.title ILIKE $4 OR EXISTS (\
     SELECT 1 FROM task_signers s2 LEFT JOIN enterprises e ON e.id = s2.enterprise_id \
     WHERE s2.task_id = t.id AND (s2.person_name ILIKE $4 OR e.name ILIKE $4))) \
     AND ($5::uuid IS NULL OR t.business_type_id = $5) \
     AND ($9::uuid IS NULL OR t.id = $9)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

fn inbox_sql<'a>(
    sql: String,
    query: &'a InboxQuery,
) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid};
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<Uuid, _>(query.viewer)
        .bind::<Nullable<Uuid>, _>(query.enterprise)
        .bind::<Text, _>(&query.phone)
        .bind::<Nullable<Text>, _>(query.search.as_deref())
        .bind::<Nullable<Uuid>, _>(query.business_type)
        .bind::<Nullable<Timestamptz>, _>(query.after.map(|(at, _)| at))
        .bind::<Nullable<Uuid>, _>(query.after.map(|(_, id)| id))
        .bind::<BigInt, _>(query.limit)
        .bind::<Nullable<Uuid>, _>(query.task)
}

/// Whether one task meets an inbox condition, as a statement PostgreSQL
/// prepares once per connection: planning the rules' nested EXISTS took
/// over a millisecond on every call, while a prepared, cached statement
/// soon runs on its generic plan (an index lookup by `t.id`).
struct TaskMeets<'a> {
    condition: &'a str,
    query: &'a InboxQuery,
    task: TaskId,
}

impl diesel::query_builder::QueryId for TaskMeets<'_> {
    type QueryId = ();
    // Cached by its SQL text, which differs by condition.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for TaskMeets<'_> {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for TaskMeets<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text, Uuid};
        // The placeholders come out as $1, $2, $3, $4 in this order, so the
        // condition's $1 (viewer), $2 (enterprise) and $3 (phone) are them.
        out.push_sql("SELECT EXISTS (SELECT 1 FROM signing_tasks t WHERE (");
        out.push_bind_param::<Uuid, _>(&self.query.viewer)?;
        out.push_sql("::uuid IS NULL OR ");
        out.push_bind_param::<Nullable<Uuid>, _>(&self.query.enterprise)?;
        out.push_sql("::uuid IS NULL OR ");
        out.push_bind_param::<Text, _>(&self.query.phone)?;
        out.push_sql("::text IS NULL OR TRUE) AND t.id = ");
        out.push_bind_param::<Uuid, _>(&self.task)?;
        out.push_sql(" AND (");
        out.push_sql(self.condition);
        out.push_sql("))");
        Ok(())
    }
}

/// Everything one initiation writes.
pub struct NewBatch {
    pub batch: Batch,
    pub tasks: Vec<Task>,
    pub signers: Vec<Signer>,
    pub documents: Vec<Document>,
    pub cc: Vec<(TaskId, UserId)>,
}

impl NewBatch {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(signing_batches::table)
            .values(&self.batch)
            .execute(conn)
            .await?;
        for chunk in self.tasks.chunks(INSERT_CHUNK / 4) {
            diesel::insert_into(signing_tasks::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        for chunk in self.signers.chunks(INSERT_CHUNK / 2) {
            diesel::insert_into(task_signers::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        for chunk in self.documents.chunks(INSERT_CHUNK) {
            diesel::insert_into(task_documents::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        for chunk in self.cc.chunks(INSERT_CHUNK * 10) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(task, user)| (task_cc::task_id.eq(*task), task_cc::user_id.eq(*user)))
                .collect();
            diesel::insert_into(task_cc::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

impl Batch {
    pub async fn find(mut conn: &AsyncPgConnection, id: BatchId) -> QueryResult<Batch> {
        signing_batches::table
            .find(id)
            .select(Batch::as_select())
            .first(&mut conn)
            .await
    }

    pub async fn by_idempotency_key(
        conn: &mut AsyncPgConnection,
        user: UserId,
        key: &str,
    ) -> QueryResult<Option<Batch>> {
        signing_batches::table
            .filter(signing_batches::initiated_by.eq(user))
            .filter(signing_batches::idempotency_key.eq(key))
            .select(Batch::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// (tasks, tasks whose documents are filled) of each batch.
    pub async fn progress(
        conn: &mut AsyncPgConnection,
        ids: &[BatchId],
    ) -> QueryResult<Vec<(BatchId, i64, i64)>> {
        use diesel::dsl::count_star;
        let totals: Vec<(BatchId, i64)> = signing_tasks::table
            .filter(signing_tasks::batch_id.eq_any(ids))
            .group_by(signing_tasks::batch_id)
            .select((signing_tasks::batch_id, count_star()))
            .load(conn)
            .await?;
        let ready: Vec<(BatchId, i64)> = signing_tasks::table
            .filter(signing_tasks::batch_id.eq_any(ids))
            .filter(signing_tasks::ready_at.is_not_null())
            .group_by(signing_tasks::batch_id)
            .select((signing_tasks::batch_id, count_star()))
            .load(conn)
            .await?;
        Ok(totals
            .into_iter()
            .map(|(id, total)| {
                let done = ready.iter().find(|(r, _)| *r == id).map_or(0, |(_, n)| *n);
                (id, total, done)
            })
            .collect())
    }
}

impl Task {
    /// Every signer has signed: the task awaits its completion.
    pub async fn set_all_signed(
        mut conn: &AsyncPgConnection,
        id: TaskId,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set(signing_tasks::all_signed_at.eq(Some(at)))
            .cached()
            .execute(&mut conn)
            .await
            .map(drop)
    }

    /// COMPLETED, with its documents.
    pub async fn complete(
        conn: &mut AsyncPgConnection,
        id: TaskId,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set((
                signing_tasks::status.eq(TaskStatus::Completed),
                signing_tasks::completed_at.eq(Some(at)),
            ))
            .cached()
            .execute(conn)
            .await?;
        Document::set_status_of_task(conn, id, DocumentStatus::Completed, at).await
    }

    /// Tasks every signer signed before `before` that are not completed
    /// yet (completion re-checks under the task's lock).
    pub async fn completing(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<TaskId>> {
        signing_tasks::table
            .filter(signing_tasks::status.eq(TaskStatus::InProgress))
            .filter(signing_tasks::all_signed_at.lt(before))
            .order(signing_tasks::all_signed_at.asc())
            .limit(limit)
            .select(signing_tasks::id)
            .load(conn)
            .await
    }

    /// Replaces the task's sealed values (a signer completed some).
    pub async fn set_values(
        mut conn: &AsyncPgConnection,
        id: TaskId,
        values_enc: &[u8],
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set(signing_tasks::values_enc.eq(values_enc))
            .cached()
            .execute(&mut conn)
            .await
            .map(drop)
    }

    /// The tasks `ids`, locked until the transaction ends, in id order (so
    /// that concurrent callers lock them in the same order).
    pub async fn lock_many(mut conn: &AsyncPgConnection, ids: &[TaskId]) -> QueryResult<Vec<Task>> {
        if let [id] = ids {
            // See `Signer::of_tasks`.
            return signing_tasks::table
                .find(*id)
                .select(Task::as_select())
                .for_update()
                .load(&mut conn)
                .await;
        }
        signing_tasks::table
            .filter(signing_tasks::id.eq_any(ids))
            .order(signing_tasks::id.asc())
            .select(Task::as_select())
            .for_update()
            .load(&mut conn)
            .await
    }

    /// Ends a task: VOIDED for `reason`, its documents with it.
    pub async fn void(
        conn: &mut AsyncPgConnection,
        id: TaskId,
        reason: VoidReason,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set((
                signing_tasks::status.eq(TaskStatus::Voided),
                signing_tasks::void_reason.eq(Some(reason)),
                signing_tasks::void_note.eq(note),
                signing_tasks::completed_at.eq(Some(at)),
            ))
            .cached()
            .execute(conn)
            .await?;
        Document::set_status_of_task(conn, id, DocumentStatus::Voided, at).await
    }

    /// Up to `limit` IN_PROGRESS tasks past their deadline, locked; tasks
    /// another process holds are skipped.
    pub async fn claim_expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Task>> {
        signing_tasks::table
            .filter(signing_tasks::status.eq(TaskStatus::InProgress))
            .filter(signing_tasks::deadline.lt(now))
            .order(signing_tasks::deadline.asc())
            .limit(limit)
            .select(Task::as_select())
            .for_update()
            .skip_locked()
            .load(conn)
            .await
    }

    /// The newest tasks meeting `condition` and the query's filters.
    pub async fn page_where(
        conn: &mut AsyncPgConnection,
        condition: &str,
        query: &InboxQuery,
    ) -> QueryResult<Vec<Task>> {
        let sql = format!(
            "SELECT t.* FROM signing_tasks t WHERE ({condition}){INBOX_FILTERS} \
             AND ($6::timestamptz IS NULL OR (t.created_at, t.id) < ($6, $7)) \
             ORDER BY t.created_at DESC, t.id DESC LIMIT $8"
        );
        inbox_sql(sql, query).load(conn).await
    }

    /// Whether task `task` meets `condition` (the query's viewer,
    /// enterprise and phone bound; its filters not applied).
    pub async fn meets(
        conn: &mut AsyncPgConnection,
        condition: &str,
        query: &InboxQuery,
        task: TaskId,
    ) -> QueryResult<bool> {
        TaskMeets {
            condition,
            query,
            task,
        }
        .get_result(conn)
        .await
    }

    /// How many tasks meet `condition` and the query's filters.
    pub async fn count_where(
        conn: &mut AsyncPgConnection,
        condition: &str,
        query: &InboxQuery,
    ) -> QueryResult<i64> {
        // $6 to $8 (cursor, limit) are bound but unused: every parameter
        // keeps its number in both queries.
        let sql = format!(
            "SELECT count(*) AS count FROM signing_tasks t WHERE ({condition}){INBOX_FILTERS} \
             AND ($6::timestamptz IS NULL OR TRUE) AND ($7::uuid IS NULL OR TRUE) \
             AND ($8::bigint IS NULL OR TRUE)"
        );
        let rows: Vec<Count> = inbox_sql(sql, query).load(conn).await?;
        Ok(rows.into_iter().next().map_or(0, |c| c.count))
    }

    pub async fn find(mut conn: &AsyncPgConnection, id: TaskId) -> QueryResult<Option<Task>> {
        signing_tasks::table
            .find(id)
            .select(Task::as_select())
            .first(&mut conn)
            .await
            .optional()
    }

    pub async fn of_batch(conn: &mut AsyncPgConnection, batch: BatchId) -> QueryResult<Vec<Task>> {
        signing_tasks::table
            .filter(signing_tasks::batch_id.eq(batch))
            .order(signing_tasks::row_number.asc())
            .select(Task::as_select())
            .load(conn)
            .await
    }

    /// Up to `limit` tasks whose documents are not filled yet, locked for
    /// this transaction; tasks another worker holds are skipped.
    pub async fn claim_unfilled(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<Task>> {
        signing_tasks::table
            .filter(signing_tasks::ready_at.is_null())
            .filter(signing_tasks::fill_error.is_null())
            .order(signing_tasks::created_at.asc())
            .limit(limit)
            .select(Task::as_select())
            .for_update()
            .skip_locked()
            .load(conn)
            .await
    }

    pub async fn set_ready(
        conn: &mut AsyncPgConnection,
        id: TaskId,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set(signing_tasks::ready_at.eq(at))
            .cached()
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Records a failed fill; `give_up` keeps `error` and stops retries.
    pub async fn fill_failed(
        conn: &mut AsyncPgConnection,
        id: TaskId,
        error: &str,
        give_up: bool,
    ) -> QueryResult<()> {
        diesel::update(signing_tasks::table.find(id))
            .set((
                signing_tasks::fill_attempts.eq(signing_tasks::fill_attempts + 1),
                signing_tasks::fill_error.eq(give_up.then(|| error.to_owned())),
            ))
            .cached()
            .execute(conn)
            .await
            .map(|_| ())
    }
}

impl Signer {
    /// Links a person named by phone to the account that acted for it.
    pub async fn link_user(
        mut conn: &AsyncPgConnection,
        id: SignerId,
        user: UserId,
    ) -> QueryResult<()> {
        diesel::update(
            task_signers::table
                .find(id)
                .filter(task_signers::kind.eq(PartyKind::Person)),
        )
        .set(task_signers::user_id.eq(Some(user)))
        .cached()
        .execute(&mut conn)
        .await
        .map(drop)
    }

    /// The signer has signed all its documents (`user` acted for it: a
    /// person named by phone is linked to that account), and the turn of
    /// the `invited` signers comes; one statement.
    pub async fn set_signed(
        mut conn: &AsyncPgConnection,
        task: TaskId,
        id: SignerId,
        user: Option<UserId>,
        at: DateTime<Utc>,
        invited: &[SignerId],
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid};
        diesel::sql_query(
            "UPDATE task_signers SET \
               status = CASE WHEN id = $1 THEN $5 ELSE $6 END, \
               signed_at = CASE WHEN id = $1 THEN $2 ELSE signed_at END, \
               user_id = CASE WHEN id = $1 AND kind = $7 AND $3::uuid IS NOT NULL \
                 THEN $3 ELSE user_id END \
             WHERE task_id = $8 AND (id = $1 OR id = ANY($4))",
        )
        .bind::<Uuid, _>(id)
        .bind::<Timestamptz, _>(at)
        .bind::<Nullable<Uuid>, _>(user)
        .bind::<Array<Uuid>, _>(invited)
        .bind::<Text, _>(SignerStatus::Signed)
        .bind::<Text, _>(SignerStatus::Pending)
        .bind::<Text, _>(PartyKind::Person)
        .bind::<Uuid, _>(task)
        .cached()
        .execute(&mut conn)
        .await
        .map(drop)
    }

    pub async fn refuse(
        conn: &mut AsyncPgConnection,
        id: SignerId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(task_signers::table.find(id))
            .set((
                task_signers::status.eq(SignerStatus::Refused),
                task_signers::refused_at.eq(Some(at)),
                task_signers::refuse_reason.eq(Some(reason)),
            ))
            .cached()
            .execute(conn)
            .await
            .map(|_| ())
    }

    pub async fn set_reminded(
        conn: &mut AsyncPgConnection,
        ids: &[SignerId],
        at: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(task_signers::table.filter(task_signers::id.eq_any(ids)))
            .set(task_signers::reminded_at.eq(Some(at)))
            .cached()
            .execute(conn)
            .await
    }

    pub async fn of_tasks(
        mut conn: &AsyncPgConnection,
        tasks: &[TaskId],
    ) -> QueryResult<Vec<Signer>> {
        if let [task] = tasks {
            // PostgreSQL plans `= ANY($1)` for every call (a generic plan
            // never looks cheaper to it); `= $1` is planned once.
            return task_signers::table
                .filter(task_signers::task_id.eq(*task))
                .order(task_signers::position)
                .select(Signer::as_select())
                .load(&mut conn)
                .await;
        }
        task_signers::table
            .filter(task_signers::task_id.eq_any(tasks))
            .order((task_signers::task_id, task_signers::position))
            .select(Signer::as_select())
            .load(&mut conn)
            .await
    }

    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        ids: &[SignerId],
        status: SignerStatus,
    ) -> QueryResult<usize> {
        diesel::update(task_signers::table.filter(task_signers::id.eq_any(ids)))
            .set(task_signers::status.eq(status))
            .cached()
            .execute(conn)
            .await
    }
}

impl Document {
    /// Every document of the task ends with it.
    async fn set_status_of_task(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        status: DocumentStatus,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(task_documents::table.filter(task_documents::task_id.eq(task)))
            .set((
                task_documents::status.eq(status),
                task_documents::updated_at.eq(at),
            ))
            .cached()
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn find(
        mut conn: &AsyncPgConnection,
        id: DocumentId,
    ) -> QueryResult<Option<Document>> {
        task_documents::table
            .find(id)
            .select(Document::as_select())
            .first(&mut conn)
            .await
            .optional()
    }

    /// The task's documents, each with the SHA-256 of its current file.
    pub async fn of_task_with_sha256(
        mut conn: &AsyncPgConnection,
        task: TaskId,
    ) -> QueryResult<Vec<(Document, Option<String>)>> {
        task_documents::table
            .left_join(files::table.on(files::id.nullable().eq(task_documents::file_id)))
            .filter(task_documents::task_id.eq(task))
            .order(task_documents::position)
            .select((Document::as_select(), files::sha256.nullable()))
            .load(&mut conn)
            .await
    }

    pub async fn of_tasks(
        mut conn: &AsyncPgConnection,
        tasks: &[TaskId],
    ) -> QueryResult<Vec<Document>> {
        if let [task] = tasks {
            // See `Signer::of_tasks`.
            return task_documents::table
                .filter(task_documents::task_id.eq(*task))
                .order(task_documents::position)
                .select(Document::as_select())
                .load(&mut conn)
                .await;
        }
        task_documents::table
            .filter(task_documents::task_id.eq_any(tasks))
            .order((task_documents::task_id, task_documents::position))
            .select(Document::as_select())
            .load(&mut conn)
            .await
    }

    /// Records the stored file `sha256` and makes it the document's
    /// current version, in one statement.
    pub async fn set_new_file(
        mut conn: &AsyncPgConnection,
        id: DocumentId,
        file: &NewVersion<'_>,
        at: DateTime<Utc>,
    ) -> QueryResult<FileId> {
        use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid};
        let file_id = FileId::new();
        diesel::sql_query(
            "WITH f AS (INSERT INTO files (id, sha256, name, content_type, size, created_by) \
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) \
             UPDATE task_documents SET file_id = f.id, page_count = $7, updated_at = $8 \
             FROM f WHERE task_documents.id = $9",
        )
        .bind::<Uuid, _>(file_id)
        .bind::<Text, _>(file.sha256)
        .bind::<Text, _>(file.name)
        .bind::<Text, _>(file.content_type)
        .bind::<BigInt, _>(file.size)
        .bind::<Nullable<Uuid>, _>(file.created_by)
        .bind::<Integer, _>(file.page_count)
        .bind::<Timestamptz, _>(at)
        .bind::<Uuid, _>(id)
        .cached()
        .execute(&mut conn)
        .await?;
        Ok(file_id)
    }

    pub async fn set_file(
        conn: &mut AsyncPgConnection,
        id: DocumentId,
        file: FileId,
        page_count: i32,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(task_documents::table.find(id))
            .set((
                task_documents::file_id.eq(file),
                task_documents::page_count.eq(page_count),
                task_documents::updated_at.eq(at),
            ))
            .cached()
            .execute(conn)
            .await
            .map(|_| ())
    }
}

/// A new version of a document, stored by hash.
pub struct NewVersion<'a> {
    pub sha256: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub created_by: Option<UserId>,
    pub page_count: i32,
}

/// CC'd users of tasks.
pub async fn cc_of(
    conn: &mut AsyncPgConnection,
    tasks: &[TaskId],
) -> QueryResult<Vec<(TaskId, UserId)>> {
    task_cc::table
        .filter(task_cc::task_id.eq_any(tasks))
        .select((task_cc::task_id, task_cc::user_id))
        .load(conn)
        .await
}
