//! The `platform_keys` and `certificates` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{CertificateKind, KeyAlgorithm, KeyPurpose};
use crate::db::ids::{CertificateId, EnterpriseId, UserId};
use crate::db::schema::{certificates, platform_keys};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_keys, check_for_backend(diesel::pg::Pg))]
pub struct PlatformKey {
    pub purpose: KeyPurpose,
    pub algorithm: KeyAlgorithm,
    pub certificate_der: Vec<u8>,
    pub private_key_enc: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl PlatformKey {
    pub async fn find(
        conn: &mut AsyncPgConnection,
        purpose: KeyPurpose,
        algorithm: KeyAlgorithm,
    ) -> QueryResult<Option<PlatformKey>> {
        platform_keys::table
            .find((purpose, algorithm))
            .select(PlatformKey::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        purpose: KeyPurpose,
        algorithm: KeyAlgorithm,
        certificate_der: &[u8],
        private_key_enc: &[u8],
    ) -> QueryResult<()> {
        diesel::insert_into(platform_keys::table)
            .values((
                platform_keys::purpose.eq(purpose),
                platform_keys::algorithm.eq(algorithm),
                platform_keys::certificate_der.eq(certificate_der),
                platform_keys::private_key_enc.eq(private_key_enc),
            ))
            .execute(conn)
            .await
            .map(drop)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificates, check_for_backend(diesel::pg::Pg))]
pub struct Certificate {
    pub id: CertificateId,
    pub serial_hex: String,
    pub kind: CertificateKind,
    pub algorithm: KeyAlgorithm,
    pub user_id: Option<UserId>,
    pub subject: String,
    pub issuer: String,
    pub certificate_der: Vec<u8>,
    pub private_key_enc: Option<Vec<u8>>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub enterprise_id: Option<EnterpriseId>,
    pub expiry_reminded_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = certificates)]
pub struct NewCertificate<'a> {
    pub id: CertificateId,
    pub serial_hex: &'a str,
    pub kind: CertificateKind,
    pub algorithm: KeyAlgorithm,
    pub user_id: Option<UserId>,
    pub enterprise_id: Option<EnterpriseId>,
    pub subject: &'a str,
    pub issuer: &'a str,
    pub certificate_der: &'a [u8],
    pub private_key_enc: Option<&'a [u8]>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Certificate {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewCertificate<'_>,
    ) -> QueryResult<Certificate> {
        diesel::insert_into(certificates::table)
            .values(new)
            .returning(Certificate::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: CertificateId) -> QueryResult<Certificate> {
        certificates::table
            .find(id)
            .select(Certificate::as_select())
            .first(conn)
            .await
    }

    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[CertificateId],
    ) -> QueryResult<Vec<Certificate>> {
        certificates::table
            .filter(certificates::id.eq_any(ids))
            .select(Certificate::as_select())
            .load(conn)
            .await
    }

    pub async fn find_optional(
        conn: &mut AsyncPgConnection,
        id: CertificateId,
    ) -> QueryResult<Option<Certificate>> {
        certificates::table
            .find(id)
            .select(Certificate::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Claims one unrevoked enterprise cloud certificate that expires between
    /// `now` and `until` and was not reminded of since `reminded_before`:
    /// its reminder time becomes `now`.
    pub async fn claim_expiring(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        reminded_before: DateTime<Utc>,
    ) -> QueryResult<Option<Certificate>> {
        let id: Option<CertificateId> = certificates::table
            .filter(certificates::enterprise_id.is_not_null())
            .filter(certificates::revoked_at.is_null())
            .filter(certificates::kind.eq(CertificateKind::Cloud))
            .filter(certificates::not_after.gt(now))
            .filter(certificates::not_after.le(until))
            .filter(
                certificates::expiry_reminded_at
                    .is_null()
                    .or(certificates::expiry_reminded_at.le(reminded_before)),
            )
            .order(certificates::not_after.asc())
            .select(certificates::id)
            .for_update()
            .skip_locked()
            .first(conn)
            .await
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        diesel::update(certificates::table.find(id))
            .set(certificates::expiry_reminded_at.eq(now))
            .returning(Certificate::as_returning())
            .get_result(conn)
            .await
            .map(Some)
    }

    pub async fn of_enterprise(
        mut conn: &AsyncPgConnection,
        id: EnterpriseId,
    ) -> QueryResult<Vec<Certificate>> {
        certificates::table
            .filter(certificates::enterprise_id.eq(id))
            .order(certificates::created_at.desc())
            .select(Certificate::as_select())
            .load(&mut conn)
            .await
    }

    pub async fn of_user(
        mut conn: &AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<Certificate>> {
        certificates::table
            .filter(certificates::user_id.eq(user_id))
            .order(certificates::created_at.desc())
            .select(Certificate::as_select())
            .load(&mut conn)
            .await
    }

    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        id: CertificateId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> QueryResult<Option<Certificate>> {
        diesel::update(certificates::table.find(id))
            .filter(certificates::revoked_at.is_null())
            .set((
                certificates::revoked_at.eq(at),
                certificates::revocation_reason.eq(reason),
            ))
            .returning(Certificate::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// (serial, revocation time) of every revoked, unexpired certificate of `algorithm`.
    pub async fn revoked(
        conn: &mut AsyncPgConnection,
        algorithm: KeyAlgorithm,
        now: DateTime<Utc>,
    ) -> QueryResult<Vec<(String, DateTime<Utc>)>> {
        certificates::table
            .filter(certificates::algorithm.eq(algorithm))
            .filter(certificates::revoked_at.is_not_null())
            .filter(certificates::not_after.gt(now))
            .order(certificates::revoked_at.asc())
            .select((
                certificates::serial_hex,
                certificates::revoked_at.assume_not_null(),
            ))
            .load(conn)
            .await
    }
}
