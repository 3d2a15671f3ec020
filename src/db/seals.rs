//! The `seals` and `seal_grants` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{SealKind, SealStatus};
use crate::db::ids::{CertificateId, EnterpriseId, FileId, SealId, UserId};
use crate::db::schema::{seal_grants, seals};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = seals, check_for_backend(diesel::pg::Pg))]
pub struct Seal {
    pub id: SealId,
    pub enterprise_id: Option<EnterpriseId>,
    pub owner_user_id: Option<UserId>,
    pub kind: SealKind,
    pub name: String,
    pub status: SealStatus,
    pub image_file_id: FileId,
    pub image_sha256: String,
    pub certificate_id: Option<CertificateId>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub record_signature: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = seals)]
pub struct NewSeal<'a> {
    pub id: SealId,
    pub enterprise_id: Option<EnterpriseId>,
    pub owner_user_id: Option<UserId>,
    pub kind: SealKind,
    pub name: &'a str,
    pub image_file_id: FileId,
    pub image_sha256: &'a str,
    pub certificate_id: Option<CertificateId>,
    pub valid_from: DateTime<Utc>,
    pub record_signature: &'a [u8],
}

impl Seal {
    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSeal<'_>) -> QueryResult<Seal> {
        diesel::insert_into(seals::table)
            .values(new)
            .returning(Seal::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: SealId) -> QueryResult<Option<Seal>> {
        seals::table
            .find(id)
            .select(Seal::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn lock(conn: &mut AsyncPgConnection, id: SealId) -> QueryResult<Option<Seal>> {
        seals::table
            .find(id)
            .select(Seal::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        id: SealId,
        status: SealStatus,
    ) -> QueryResult<Seal> {
        diesel::update(seals::table.find(id))
            .set((
                seals::status.eq(status),
                seals::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Seal::as_returning())
            .get_result(conn)
            .await
    }

    /// Binds the seal to another certificate, with its new record signature.
    pub async fn rebind(
        conn: &mut AsyncPgConnection,
        id: SealId,
        certificate: CertificateId,
        record_signature: &[u8],
    ) -> QueryResult<Seal> {
        diesel::update(seals::table.find(id))
            .set((
                seals::certificate_id.eq(certificate),
                seals::record_signature.eq(record_signature),
                seals::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Seal::as_returning())
            .get_result(conn)
            .await
    }

    /// A new image for the seal, with its new record signature.
    pub async fn set_image(
        conn: &mut AsyncPgConnection,
        id: SealId,
        file: FileId,
        sha256: &str,
        record_signature: &[u8],
    ) -> QueryResult<Seal> {
        diesel::update(seals::table.find(id))
            .set((
                seals::image_file_id.eq(file),
                seals::image_sha256.eq(sha256),
                seals::record_signature.eq(record_signature),
                seals::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Seal::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn of_enterprise(
        mut conn: &AsyncPgConnection,
        id: EnterpriseId,
    ) -> QueryResult<Vec<Seal>> {
        seals::table
            .filter(seals::enterprise_id.eq(id))
            .order(seals::created_at.asc())
            .select(Seal::as_select())
            .load(&mut conn)
            .await
    }

    pub async fn of_enterprises(
        conn: &mut AsyncPgConnection,
        ids: &[EnterpriseId],
    ) -> QueryResult<Vec<Seal>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        seals::table
            .filter(seals::enterprise_id.eq_any(ids))
            .order(seals::created_at.asc())
            .select(Seal::as_select())
            .load(conn)
            .await
    }

    /// Grants of seals of `enterprises` to `users`, as (user, seal).
    pub async fn granted_within(
        conn: &mut AsyncPgConnection,
        enterprises: &[EnterpriseId],
        users: &[UserId],
    ) -> QueryResult<Vec<(UserId, Seal)>> {
        if enterprises.is_empty() {
            return Ok(Vec::new());
        }
        seals::table
            .inner_join(seal_grants::table)
            .filter(seal_grants::enterprise_id.eq_any(enterprises))
            .filter(seal_grants::user_id.eq_any(users))
            .order(seals::created_at.asc())
            .select((seal_grants::user_id, Seal::as_select()))
            .load(conn)
            .await
    }

    /// The enterprise's seals granted to `user`.
    pub async fn granted_to(
        mut conn: &AsyncPgConnection,
        id: EnterpriseId,
        user: UserId,
    ) -> QueryResult<Vec<Seal>> {
        seals::table
            .inner_join(seal_grants::table)
            .filter(seals::enterprise_id.eq(id))
            .filter(seal_grants::user_id.eq(user))
            .order(seals::created_at.asc())
            .select(Seal::as_select())
            .load(&mut conn)
            .await
    }

    pub async fn of_person(mut conn: &AsyncPgConnection, user: UserId) -> QueryResult<Vec<Seal>> {
        seals::table
            .filter(seals::owner_user_id.eq(user))
            .order(seals::created_at.asc())
            .select(Seal::as_select())
            .load(&mut conn)
            .await
    }

    /// Grants the enterprise seal `id` to the member `user` (the membership
    /// must exist: the grant hangs off it).
    pub async fn grant(
        conn: &mut AsyncPgConnection,
        id: SealId,
        enterprise: EnterpriseId,
        user: UserId,
    ) -> QueryResult<()> {
        diesel::insert_into(seal_grants::table)
            .values((
                seal_grants::seal_id.eq(id),
                seal_grants::enterprise_id.eq(enterprise),
                seal_grants::user_id.eq(user),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn revoke_grant(
        conn: &mut AsyncPgConnection,
        id: SealId,
        user: UserId,
    ) -> QueryResult<bool> {
        diesel::delete(seal_grants::table.find((id, user)))
            .execute(conn)
            .await
            .map(|n| n == 1)
    }

    /// Removes every grant of the enterprise's seals to `user` (who left).
    pub async fn revoke_all_grants_of(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
        user: UserId,
    ) -> QueryResult<()> {
        diesel::delete(
            seal_grants::table
                .filter(seal_grants::enterprise_id.eq(id))
                .filter(seal_grants::user_id.eq(user)),
        )
        .execute(conn)
        .await
        .map(drop)
    }

    pub async fn revoke_all_grants_of_seal(
        conn: &mut AsyncPgConnection,
        id: SealId,
    ) -> QueryResult<()> {
        diesel::delete(seal_grants::table.filter(seal_grants::seal_id.eq(id)))
            .execute(conn)
            .await
            .map(drop)
    }

    /// (seal, user) for every grant of `seals`.
    pub async fn grantees_of(
        conn: &mut AsyncPgConnection,
        seals: &[SealId],
    ) -> QueryResult<Vec<(SealId, UserId)>> {
        seal_grants::table
            .filter(seal_grants::seal_id.eq_any(seals))
            .order(seal_grants::granted_at.asc())
            .select((seal_grants::seal_id, seal_grants::user_id))
            .load(conn)
            .await
    }

    pub async fn grantees(conn: &mut AsyncPgConnection, id: SealId) -> QueryResult<Vec<UserId>> {
        seal_grants::table
            .filter(seal_grants::seal_id.eq(id))
            .select(seal_grants::user_id)
            .load(conn)
            .await
    }
}
