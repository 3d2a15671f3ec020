//! The `join_applications` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::ApplicationStatus;
use crate::db::ids::{ApplicationId, EnterpriseId, UserId};
use crate::db::schema::join_applications;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = join_applications, check_for_backend(diesel::pg::Pg))]
pub struct JoinApplication {
    pub id: ApplicationId,
    pub enterprise_id: EnterpriseId,
    pub applicant_id: UserId,
    pub reason: String,
    pub status: ApplicationStatus,
    pub decision_reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl JoinApplication {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        applicant_id: UserId,
        reason: &str,
    ) -> QueryResult<JoinApplication> {
        diesel::insert_into(join_applications::table)
            .values((
                join_applications::id.eq(ApplicationId::new()),
                join_applications::enterprise_id.eq(enterprise_id),
                join_applications::applicant_id.eq(applicant_id),
                join_applications::reason.eq(reason),
            ))
            .returning(JoinApplication::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: ApplicationId,
    ) -> QueryResult<Option<JoinApplication>> {
        join_applications::table
            .find(id)
            .select(JoinApplication::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn decide(
        conn: &mut AsyncPgConnection,
        id: ApplicationId,
        status: ApplicationStatus,
        decided_by: Option<UserId>,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> QueryResult<JoinApplication> {
        diesel::update(join_applications::table.find(id))
            .set((
                join_applications::status.eq(status),
                join_applications::decided_by.eq(decided_by),
                join_applications::decision_reason.eq(reason),
                join_applications::decided_at.eq(at),
            ))
            .returning(JoinApplication::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn of_applicant(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<JoinApplication>> {
        join_applications::table
            .filter(join_applications::applicant_id.eq(user_id))
            .order(join_applications::created_at.desc())
            .select(JoinApplication::as_select())
            .load(conn)
            .await
    }

    pub async fn of_enterprise(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        status: Option<ApplicationStatus>,
    ) -> QueryResult<Vec<JoinApplication>> {
        let mut query = join_applications::table
            .filter(join_applications::enterprise_id.eq(enterprise_id))
            .order(join_applications::created_at.desc())
            .select(JoinApplication::as_select())
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(join_applications::status.eq(status));
        }
        query.load(conn).await
    }
}
