//! The `identity_checks` table: evidence of every real-name check.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{CheckStatus, IdType, RealNameMethod};
use crate::db::ids::{IdentityCheckId, UserId};
use crate::db::schema::identity_checks;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = identity_checks, check_for_backend(diesel::pg::Pg))]
pub struct IdentityCheck {
    pub id: IdentityCheckId,
    pub user_id: UserId,
    pub method: RealNameMethod,
    pub status: CheckStatus,
    pub id_type: IdType,
    pub name: String,
    pub id_number_enc: Vec<u8>,
    pub id_number_hash: Vec<u8>,
    pub id_number_masked: String,
    pub email: Option<String>,
    pub bank_card_masked: Option<String>,
    pub provider: String,
    pub provider_ref: String,
    pub failure_reason: Option<String>,
    pub client_ip: String,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = identity_checks)]
pub struct NewIdentityCheck<'a> {
    pub id: IdentityCheckId,
    pub user_id: UserId,
    pub method: RealNameMethod,
    pub status: CheckStatus,
    pub id_type: IdType,
    pub name: &'a str,
    pub id_number_enc: &'a [u8],
    pub id_number_hash: &'a [u8],
    pub id_number_masked: &'a str,
    pub email: Option<&'a str>,
    pub bank_card_masked: Option<&'a str>,
    pub provider: &'a str,
    pub provider_ref: &'a str,
    pub failure_reason: Option<&'a str>,
    pub client_ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl IdentityCheck {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewIdentityCheck<'_>,
    ) -> QueryResult<IdentityCheck> {
        diesel::insert_into(identity_checks::table)
            .values(new)
            .returning(IdentityCheck::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: IdentityCheckId,
    ) -> QueryResult<Option<IdentityCheck>> {
        identity_checks::table
            .find(id)
            .select(IdentityCheck::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_by_provider_ref(
        conn: &mut AsyncPgConnection,
        provider: &str,
        provider_ref: &str,
    ) -> QueryResult<Option<IdentityCheck>> {
        identity_checks::table
            .filter(identity_checks::provider.eq(provider))
            .filter(identity_checks::provider_ref.eq(provider_ref))
            .select(IdentityCheck::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn lock_by_provider_ref(
        conn: &mut AsyncPgConnection,
        provider: &str,
        provider_ref: &str,
    ) -> QueryResult<Option<IdentityCheck>> {
        identity_checks::table
            .filter(identity_checks::provider.eq(provider))
            .filter(identity_checks::provider_ref.eq(provider_ref))
            .select(IdentityCheck::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn count_since(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
        since: DateTime<Utc>,
    ) -> QueryResult<i64> {
        identity_checks::table
            .filter(identity_checks::user_id.eq(user_id))
            .filter(identity_checks::created_at.gt(since))
            .count()
            .get_result(conn)
            .await
    }

    /// Ends the user's pending checks: a newer one replaces them.
    pub async fn supersede_pending(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<usize> {
        diesel::update(identity_checks::table)
            .filter(identity_checks::user_id.eq(user_id))
            .filter(identity_checks::status.eq(CheckStatus::Pending))
            .set((
                identity_checks::status.eq(CheckStatus::Failed),
                identity_checks::failure_reason.eq("已被新的实名认证取代"),
                identity_checks::completed_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    pub async fn complete(
        conn: &mut AsyncPgConnection,
        id: IdentityCheckId,
        status: CheckStatus,
        failure_reason: Option<&str>,
    ) -> QueryResult<IdentityCheck> {
        diesel::update(identity_checks::table.find(id))
            .set((
                identity_checks::status.eq(status),
                identity_checks::failure_reason.eq(failure_reason),
                identity_checks::completed_at.eq(diesel::dsl::now),
            ))
            .returning(IdentityCheck::as_returning())
            .get_result(conn)
            .await
    }
}
