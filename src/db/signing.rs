//! Signing attempts, the evidence of each signature, and the regulator's
//! queue of completed contracts (`signing_attempts`, `signature_evidence`,
//! `regulator_reports`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

use crate::db::enums::AttemptStatus;
use crate::db::ids::{
    AttemptId, CertificateId, DocumentId, EnterpriseId, EvidenceId, SignerId, TaskId, UserId,
};
use crate::db::schema::{regulator_reports, signature_evidence, signing_attempts};

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
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(signing_attempts::table)
            .values(self)
            .cached()
            .execute(conn)
            .await
            .map(drop)
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
        conn: &mut AsyncPgConnection,
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
        .get_result(conn)
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
    pub async fn insert_many(conn: &mut AsyncPgConnection, rows: &[Evidence]) -> QueryResult<()> {
        // One shape per number of documents signed at once.
        diesel::insert_into(signature_evidence::table)
            .values(rows)
            .cached()
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn of_tasks(
        conn: &mut AsyncPgConnection,
        tasks: &[TaskId],
    ) -> QueryResult<Vec<Evidence>> {
        if let [task] = tasks {
            // See `Signer::of_tasks`.
            return signature_evidence::table
                .filter(signature_evidence::task_id.eq(*task))
                .order(signature_evidence::signed_at.asc())
                .select(Evidence::as_select())
                .load(conn)
                .await;
        }
        signature_evidence::table
            .filter(signature_evidence::task_id.eq_any(tasks))
            .order(signature_evidence::signed_at.asc())
            .select(Evidence::as_select())
            .load(conn)
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
