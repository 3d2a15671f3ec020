//! The `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{IdType, RealNameStatus};
use crate::db::ids::UserId;
use crate::db::schema::users;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: UserId,
    pub phone: String,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub id_type: Option<IdType>,
    pub id_number_enc: Option<Vec<u8>>,
    pub id_number_hash: Option<Vec<u8>>,
    pub id_number_masked: Option<String>,
    pub real_name_status: RealNameStatus,
    pub real_name_verified_at: Option<DateTime<Utc>>,
    pub ukey_fingerprint: Option<String>,
    pub ukey_certificate_pem: Option<String>,
    pub agreements_accepted_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: UserId,
    pub phone: &'a str,
    pub password_hash: &'a str,
    pub agreements_accepted_at: DateTime<Utc>,
}

/// The identity fixed by a successful real-name verification.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
pub struct VerifiedIdentity<'a> {
    pub name: &'a str,
    pub id_type: IdType,
    pub id_number_enc: &'a [u8],
    pub id_number_hash: &'a [u8],
    pub id_number_masked: &'a str,
    pub email: Option<&'a str>,
    pub real_name_status: RealNameStatus,
    pub real_name_verified_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub async fn find(mut conn: &AsyncPgConnection, id: UserId) -> QueryResult<User> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(&mut conn)
            .await
    }

    pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[UserId]) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::id.eq_any(ids))
            .select(User::as_select())
            .load(conn)
            .await
    }

    pub async fn find_by_phone(
        conn: &mut AsyncPgConnection,
        phone: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::phone.eq(phone))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// (id, phone) of the users registered with any of `phones`.
    pub async fn ids_by_phones(
        conn: &mut AsyncPgConnection,
        phones: &[String],
    ) -> QueryResult<Vec<(UserId, String)>> {
        users::table
            .filter(users::phone.eq_any(phones))
            .select((users::id, users::phone))
            .load(conn)
            .await
    }

    pub async fn find_by_ukey(
        conn: &mut AsyncPgConnection,
        fingerprint: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::ukey_fingerprint.eq(fingerprint))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn lock(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<User> {
        users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(conn)
            .await
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<User> {
        diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_password(
        conn: &mut AsyncPgConnection,
        id: UserId,
        hash: &str,
    ) -> QueryResult<()> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn set_phone(
        conn: &mut AsyncPgConnection,
        id: UserId,
        phone: &str,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::phone.eq(phone),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_email(
        conn: &mut AsyncPgConnection,
        id: UserId,
        email: &str,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::email.eq(email),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_real_name_status(
        conn: &mut AsyncPgConnection,
        id: UserId,
        status: RealNameStatus,
    ) -> QueryResult<()> {
        diesel::update(users::table.find(id))
            .set((
                users::real_name_status.eq(status),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn set_verified_identity(
        conn: &mut AsyncPgConnection,
        id: UserId,
        identity: &VerifiedIdentity<'_>,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set(identity)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn bind_ukey(
        conn: &mut AsyncPgConnection,
        id: UserId,
        fingerprint: &str,
        pem: &str,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::ukey_fingerprint.eq(fingerprint),
                users::ukey_certificate_pem.eq(pem),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }
}
