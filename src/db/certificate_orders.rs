//! The `certificate_orders` table: one row per certification attempt.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{CertificateKind, CertificationMethod, OrderKind, OrderStatus};
use crate::db::ids::{CertificateId, EnterpriseId, FileId, OrderId, UserId};
use crate::db::schema::certificate_orders;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = certificate_orders, check_for_backend(diesel::pg::Pg))]
pub struct CertificateOrder {
    pub id: OrderId,
    pub enterprise_id: EnterpriseId,
    pub applicant_id: UserId,
    pub kind: OrderKind,
    pub method: CertificationMethod,
    pub status: OrderStatus,
    pub certificate_kind: CertificateKind,
    pub csr_pem: Option<String>,
    pub seal_kinds: Vec<String>,
    pub handler_name: String,
    pub handler_id_enc: Vec<u8>,
    pub handler_id_masked: String,
    pub handler_phone: String,
    pub handler_email: Option<String>,
    pub legal_rep_bank_card_masked: Option<String>,
    pub payment_mac: Option<Vec<u8>>,
    pub authorization_attempts: i32,
    pub authorization_letter_id: Option<FileId>,
    pub business_license_id: Option<FileId>,
    pub handler_id_front_id: Option<FileId>,
    pub handler_id_back_id: Option<FileId>,
    pub reject_reason: Option<String>,
    pub certificate_id: Option<CertificateId>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// RECERTIFICATION: the enterprise's name once approved.
    pub new_name: Option<String>,
    /// RENEWAL: the certificate being renewed.
    pub renews_certificate_id: Option<CertificateId>,
}

#[derive(Insertable)]
#[diesel(table_name = certificate_orders)]
pub struct NewCertificateOrder<'a> {
    pub id: OrderId,
    pub enterprise_id: EnterpriseId,
    pub applicant_id: UserId,
    pub kind: OrderKind,
    pub method: CertificationMethod,
    pub status: OrderStatus,
    pub certificate_kind: CertificateKind,
    pub csr_pem: Option<&'a str>,
    pub seal_kinds: Vec<String>,
    pub handler_name: &'a str,
    pub handler_id_enc: &'a [u8],
    pub handler_id_masked: &'a str,
    pub handler_phone: &'a str,
    pub handler_email: Option<&'a str>,
    pub legal_rep_bank_card_masked: Option<&'a str>,
    pub new_name: Option<&'a str>,
    pub renews_certificate_id: Option<CertificateId>,
}

/// What a transition changes besides the status.
#[derive(AsChangeset, Default)]
#[diesel(table_name = certificate_orders)]
pub struct OrderChanges<'a> {
    pub payment_mac: Option<&'a [u8]>,
    pub authorization_attempts: Option<i32>,
    pub authorization_letter_id: Option<FileId>,
    pub business_license_id: Option<FileId>,
    pub handler_id_front_id: Option<FileId>,
    pub handler_id_back_id: Option<FileId>,
    pub reject_reason: Option<Option<&'a str>>,
    pub certificate_id: Option<CertificateId>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl CertificateOrder {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewCertificateOrder<'_>,
    ) -> QueryResult<CertificateOrder> {
        diesel::insert_into(certificate_orders::table)
            .values(new)
            .returning(CertificateOrder::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        id: OrderId,
    ) -> QueryResult<Option<CertificateOrder>> {
        certificate_orders::table
            .find(id)
            .select(CertificateOrder::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: OrderId,
    ) -> QueryResult<Option<CertificateOrder>> {
        certificate_orders::table
            .find(id)
            .select(CertificateOrder::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Moves the order to `status` with `changes`, stamped `at`.
    pub async fn transition(
        conn: &mut AsyncPgConnection,
        id: OrderId,
        status: OrderStatus,
        changes: &OrderChanges<'_>,
        at: DateTime<Utc>,
    ) -> QueryResult<CertificateOrder> {
        diesel::update(certificate_orders::table.find(id))
            .set((
                certificate_orders::status.eq(status),
                certificate_orders::updated_at.eq(at),
                changes,
            ))
            .returning(CertificateOrder::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn count_by_applicant_since(
        conn: &mut AsyncPgConnection,
        applicant: UserId,
        since: DateTime<Utc>,
    ) -> QueryResult<i64> {
        certificate_orders::table
            .filter(certificate_orders::applicant_id.eq(applicant))
            .filter(certificate_orders::created_at.gt(since))
            .count()
            .get_result(conn)
            .await
    }

    pub async fn count_attempt(conn: &mut AsyncPgConnection, id: OrderId) -> QueryResult<i32> {
        diesel::update(certificate_orders::table.find(id))
            .set(
                certificate_orders::authorization_attempts
                    .eq(certificate_orders::authorization_attempts + 1),
            )
            .returning(certificate_orders::authorization_attempts)
            .get_result(conn)
            .await
    }

    pub async fn of_enterprise(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
    ) -> QueryResult<Vec<CertificateOrder>> {
        certificate_orders::table
            .filter(certificate_orders::enterprise_id.eq(id))
            .order(certificate_orders::created_at.desc())
            .select(CertificateOrder::as_select())
            .load(conn)
            .await
    }

    pub async fn of_applicant(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<CertificateOrder>> {
        certificate_orders::table
            .filter(certificate_orders::applicant_id.eq(user_id))
            .order(certificate_orders::created_at.desc())
            .select(CertificateOrder::as_select())
            .load(conn)
            .await
    }

    /// The open (not approved or revoked) order of `kind` for the enterprise.
    pub async fn open_of_kind(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        kind: OrderKind,
    ) -> QueryResult<Option<CertificateOrder>> {
        certificate_orders::table
            .filter(certificate_orders::enterprise_id.eq(enterprise))
            .filter(certificate_orders::kind.eq(kind))
            .filter(
                certificate_orders::status.ne_all([OrderStatus::Approved, OrderStatus::Revoked]),
            )
            .select(CertificateOrder::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Ids of reviewing orders, least recently changed first.
    pub async fn reviewing_ids(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<OrderId>> {
        certificate_orders::table
            .filter(certificate_orders::status.eq(OrderStatus::Reviewing))
            .order(certificate_orders::updated_at.asc())
            .limit(limit)
            .select(certificate_orders::id)
            .load(conn)
            .await
    }

    /// Orders waiting for review, oldest first, after `after` (keyset paging).
    pub async fn reviewing(
        conn: &mut AsyncPgConnection,
        after: Option<(DateTime<Utc>, OrderId)>,
        limit: i64,
    ) -> QueryResult<Vec<CertificateOrder>> {
        let mut query = certificate_orders::table
            .filter(certificate_orders::status.eq(OrderStatus::Reviewing))
            .order((
                certificate_orders::updated_at.asc(),
                certificate_orders::id.asc(),
            ))
            .limit(limit)
            .select(CertificateOrder::as_select())
            .into_boxed();
        if let Some((at, id)) = after {
            query = query.filter(
                certificate_orders::updated_at
                    .gt(at)
                    .or(certificate_orders::updated_at
                        .eq(at)
                        .and(certificate_orders::id.gt(id))),
            );
        }
        query.load(conn).await
    }
}
