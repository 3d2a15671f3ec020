//! The `enterprises`, `memberships` and `business_types` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{CertificateKind, EnterpriseStatus, MemberRole};
use crate::db::ids::{BusinessTypeId, EnterpriseId, UserId};
use crate::db::schema::{business_types, enterprises, memberships};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = enterprises, check_for_backend(diesel::pg::Pg))]
pub struct Enterprise {
    pub id: EnterpriseId,
    pub name: String,
    pub uscc: String,
    pub address: Option<String>,
    pub legal_rep_name: String,
    pub legal_rep_id_enc: Vec<u8>,
    pub legal_rep_id_masked: String,
    pub legal_rep_phone: String,
    pub status: EnterpriseStatus,
    pub certificate_kind: CertificateKind,
    pub created_at: DateTime<Utc>,
    pub certified_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = enterprises)]
pub struct NewEnterprise<'a> {
    pub id: EnterpriseId,
    pub name: &'a str,
    pub uscc: &'a str,
    pub address: Option<&'a str>,
    pub legal_rep_name: &'a str,
    pub legal_rep_id_enc: &'a [u8],
    pub legal_rep_id_masked: &'a str,
    pub legal_rep_phone: &'a str,
    pub certificate_kind: CertificateKind,
}

impl Enterprise {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewEnterprise<'_>,
    ) -> QueryResult<Enterprise> {
        diesel::insert_into(enterprises::table)
            .values(new)
            .returning(Enterprise::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: EnterpriseId) -> QueryResult<Enterprise> {
        enterprises::table
            .find(id)
            .select(Enterprise::as_select())
            .first(conn)
            .await
    }

    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[EnterpriseId],
    ) -> QueryResult<Vec<Enterprise>> {
        enterprises::table
            .filter(enterprises::id.eq_any(ids))
            .select(Enterprise::as_select())
            .load(conn)
            .await
    }

    pub async fn certify(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(enterprises::table.find(id))
            .set((
                enterprises::status.eq(EnterpriseStatus::Certified),
                enterprises::certified_at.eq(at),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Deletes an enterprise that never got certified (its orders go with it).
    pub async fn delete_uncertified(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
    ) -> QueryResult<usize> {
        diesel::delete(
            enterprises::table
                .filter(enterprises::id.eq(id))
                .filter(enterprises::status.eq(EnterpriseStatus::Certifying)),
        )
        .execute(conn)
        .await
    }

    /// Certified enterprises whose name contains `fragment`, at most `limit`.
    pub async fn search_certified(
        conn: &mut AsyncPgConnection,
        fragment: &str,
        limit: i64,
    ) -> QueryResult<Vec<Enterprise>> {
        let pattern = format!(
            "%{}%",
            fragment
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        enterprises::table
            .filter(enterprises::status.eq(EnterpriseStatus::Certified))
            .filter(enterprises::name.like(pattern))
            .order(enterprises::name)
            .limit(limit)
            .select(Enterprise::as_select())
            .load(conn)
            .await
    }
}

pub struct Memberships;

impl Memberships {
    pub async fn add(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
        role: MemberRole,
    ) -> QueryResult<()> {
        diesel::insert_into(memberships::table)
            .values((
                memberships::enterprise_id.eq(enterprise_id),
                memberships::user_id.eq(user_id),
                memberships::role.eq(role),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn role_of(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<Option<MemberRole>> {
        memberships::table
            .find((enterprise_id, user_id))
            .select(memberships::role)
            .first(conn)
            .await
            .optional()
    }
}

pub struct BusinessTypes;

impl BusinessTypes {
    pub async fn add(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        name: &str,
    ) -> QueryResult<BusinessTypeId> {
        diesel::insert_into(business_types::table)
            .values((
                business_types::id.eq(BusinessTypeId::new()),
                business_types::enterprise_id.eq(enterprise_id),
                business_types::name.eq(name),
            ))
            .returning(business_types::id)
            .get_result(conn)
            .await
    }

    pub async fn of(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
    ) -> QueryResult<Vec<(BusinessTypeId, String)>> {
        business_types::table
            .filter(business_types::enterprise_id.eq(enterprise_id))
            .order(business_types::created_at)
            .select((business_types::id, business_types::name))
            .load(conn)
            .await
    }
}
