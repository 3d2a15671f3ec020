//! Signing attempts, the evidence of each signature, and the regulator's
//! queue of completed contracts (`signing_attempts`, `signature_evidence`,
//! `regulator_reports`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

use crate::db::enums::{AttemptStatus, SignerStatus, TaskStatus};
use crate::db::ids::{
    AttemptId, CertificateId, DocumentId, EnterpriseId, EvidenceId, SignerId, TaskId, UserId,
};
use crate::db::schema::{regulator_reports, signature_evidence, signing_attempts};

/// What [`Attempt::record_with_code`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTried {
    /// The code was right and is used up; the attempt is recorded.
    Recorded,
    /// The code was right but the signer's turn has ended: nothing changed.
    TurnEnded,
    /// Wrong (counted as a try), used, expired or tried out.
    Wrong,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_attempts, check_for_backend(diesel::pg::Pg))]
pub struct Attempt {
    pub id: AttemptId,
    pub task_id: TaskId,
    pub signer_id: SignerId,
    pub user_id: UserId,
    pub code_mac: Vec<u8>,
    pub status: AttemptStatus,
    pub plan_enc: Vec<u8>,
    pub certificate_id: CertificateId,
    pub client_ip: String,
    pub user_agent: Option<String>,
    pub revisions: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Attempt {
    /// Records the attempt if its `code_mac` is the user's live intent code
    /// for the task and the signer's turn is open, using the code up; a
    /// wrong code counts as a try. One statement: the task's and the
    /// signer's rows are locked first (so that, after a wait, the turn is
    /// read as committed), then the code's.
    pub async fn record_with_code(
        &self,
        mut conn: &AsyncPgConnection,
        max_tries: i32,
    ) -> QueryResult<CodeTried> {
        use diesel::sql_types::{Bool, Bytea, Integer, Nullable, Text, Timestamptz, Uuid};
        #[derive(QueryableByName)]
        struct Tried {
            #[diesel(sql_type = Bool)]
            matched: bool,
            #[diesel(sql_type = Bool)]
            open: bool,
        }
        let tried: Option<Tried> = diesel::sql_query(
            "WITH turn AS ( \
               SELECT t.status = $12 AND s.status = $13 AS open \
               FROM signing_tasks t JOIN task_signers s ON s.task_id = t.id \
               WHERE t.id = $2 AND s.id = $3 FOR UPDATE OF t, s \
             ), code AS ( \
               UPDATE signing_codes c \
               SET attempts = c.attempts + CASE WHEN c.code_hash = $5 THEN 0 ELSE 1 END, \
                 consumed_at = CASE WHEN c.code_hash = $5 AND turn.open THEN $11 \
                   ELSE c.consumed_at END \
               FROM turn \
               WHERE c.task_id = $2 AND c.user_id = $4 AND c.consumed_at IS NULL \
                 AND c.expires_at > $11 AND c.attempts < $14 \
               RETURNING c.code_hash = $5 AS matched, turn.open AS open \
             ), recorded AS ( \
               INSERT INTO signing_attempts (id, task_id, signer_id, user_id, code_mac, \
                 status, plan_enc, certificate_id, client_ip, user_agent, created_at, \
                 updated_at) \
               SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11 \
               FROM code WHERE code.matched AND code.open \
             ) \
             SELECT matched, open FROM code",
        )
        .bind::<Uuid, _>(self.id)
        .bind::<Uuid, _>(self.task_id)
        .bind::<Uuid, _>(self.signer_id)
        .bind::<Uuid, _>(self.user_id)
        .bind::<Bytea, _>(&self.code_mac)
        .bind::<Text, _>(self.status)
        .bind::<Bytea, _>(&self.plan_enc)
        .bind::<Uuid, _>(self.certificate_id)
        .bind::<Text, _>(&self.client_ip)
        .bind::<Nullable<Text>, _>(&self.user_agent)
        .bind::<Timestamptz, _>(self.created_at)
        .bind::<Text, _>(TaskStatus::InProgress)
        .bind::<Text, _>(SignerStatus::Pending)
        .bind::<Integer, _>(max_tries)
        .cached()
        .get_result(&mut conn)
        .await
        .optional()?;
        Ok(match tried {
            Some(Tried {
                matched: true,
                open: true,
            }) => CodeTried::Recorded,
            Some(Tried {
                matched: true,
                open: false,
            }) => CodeTried::TurnEnded,
            _ => CodeTried::Wrong,
        })
    }

    /// The attempt made with this intent code, if any.
    pub async fn by_code(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
        code_mac: &[u8],
    ) -> QueryResult<Option<Attempt>> {
        signing_attempts::table
            .filter(signing_attempts::task_id.eq(task))
            .filter(signing_attempts::user_id.eq(user))
            .filter(signing_attempts::code_mac.eq(code_mac))
            .select(Attempt::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: AttemptId) -> QueryResult<Attempt> {
        signing_attempts::table
            .find(id)
            .select(Attempt::as_select())
            .first(conn)
            .await
    }

    /// Unfinished attempts untouched since `before`, oldest first (the
    /// phases they go through guard against a second finisher).
    pub async fn stale(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Attempt>> {
        signing_attempts::table
            .filter(
                signing_attempts::status.eq_any([AttemptStatus::Prepared, AttemptStatus::Signed]),
            )
            .filter(signing_attempts::updated_at.lt(before))
            .order(signing_attempts::updated_at.asc())
            .limit(limit)
            .select(Attempt::as_select())
            .load(conn)
            .await
    }

    /// Claims an unfinished attempt for applying `revisions` (stored by
    /// hash): APPLIED and locked until the transaction ends, which may
    /// still set another outcome. None when someone else finished it.
    pub async fn claim(
        mut conn: &AsyncPgConnection,
        id: AttemptId,
        revisions: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> QueryResult<Option<Attempt>> {
        diesel::update(signing_attempts::table.find(id).filter(
            signing_attempts::status.eq_any([AttemptStatus::Prepared, AttemptStatus::Signed]),
        ))
        .set((
            signing_attempts::status.eq(AttemptStatus::Applied),
            signing_attempts::revisions.eq(Some(revisions)),
            signing_attempts::updated_at.eq(at),
        ))
        .returning(Attempt::as_returning())
        .cached()
        .get_result(&mut conn)
        .await
        .optional()
    }

    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        id: AttemptId,
        status: AttemptStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signing_attempts::table.find(id))
            .set((
                signing_attempts::status.eq(status),
                signing_attempts::error.eq(error),
                signing_attempts::updated_at.eq(at),
            ))
            .cached()
            .execute(conn)
            .await
            .map(drop)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signature_evidence, check_for_backend(diesel::pg::Pg))]
pub struct Evidence {
    pub id: EvidenceId,
    pub attempt_id: AttemptId,
    pub task_id: TaskId,
    pub signer_id: SignerId,
    pub document_id: DocumentId,
    pub user_id: UserId,
    pub code_mac: Vec<u8>,
    pub client_ip: String,
    pub user_agent: Option<String>,
    pub sha256_before: String,
    pub sha256_after: String,
    pub certificate_serial: String,
    pub signed_at: DateTime<Utc>,
}

impl Evidence {
    pub async fn insert_many(mut conn: &AsyncPgConnection, rows: &[Evidence]) -> QueryResult<()> {
        // One shape per number of documents signed at once.
        diesel::insert_into(signature_evidence::table)
            .values(rows)
            .cached()
            .execute(&mut conn)
            .await
            .map(drop)
    }

    pub async fn of_tasks(
        mut conn: &AsyncPgConnection,
        tasks: &[TaskId],
    ) -> QueryResult<Vec<Evidence>> {
        if let [task] = tasks {
            // See `Signer::of_tasks`.
            return signature_evidence::table
                .filter(signature_evidence::task_id.eq(*task))
                .order(signature_evidence::signed_at.asc())
                .select(Evidence::as_select())
                .load(&mut conn)
                .await;
        }
        signature_evidence::table
            .filter(signature_evidence::task_id.eq_any(tasks))
            .order(signature_evidence::signed_at.asc())
            .select(Evidence::as_select())
            .load(&mut conn)
            .await
    }
}

/// Queues the completed task for the regulator, once.
pub async fn queue_regulator_report(
    conn: &mut AsyncPgConnection,
    task: TaskId,
    enterprise: EnterpriseId,
) -> QueryResult<()> {
    diesel::insert_into(regulator_reports::table)
        .values((
            regulator_reports::task_id.eq(task),
            regulator_reports::enterprise_id.eq(enterprise),
        ))
        .on_conflict(regulator_reports::task_id)
        .do_nothing()
        .execute(conn)
        .await
        .map(drop)
}
