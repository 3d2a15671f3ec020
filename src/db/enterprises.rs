//! The `enterprises`, `memberships` and `business_types` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;
use crate::db::enums::{CertificateKind, EnterpriseStatus, MemberRole};
use crate::db::ids::{BusinessTypeId, EnterpriseId, TaskId, UserId};
use crate::db::schema::{
    business_types, enterprises, member_business_types, memberships, signing_tasks,
};

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

    pub async fn find(mut conn: &AsyncPgConnection, id: EnterpriseId) -> QueryResult<Enterprise> {
        enterprises::table
            .find(id)
            .select(Enterprise::as_select())
            .first(&mut conn)
            .await
    }

    /// The enterprise that initiated task `task`.
    pub async fn initiating(mut conn: &AsyncPgConnection, task: TaskId) -> QueryResult<Enterprise> {
        enterprises::table
            .filter(
                enterprises::id.eq_any(
                    signing_tasks::table
                        .find(task)
                        .select(signing_tasks::enterprise_id),
                ),
            )
            .select(Enterprise::as_select())
            .first(&mut conn)
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

    pub async fn set_legal_representative(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
        name: &str,
        id_enc: &[u8],
        id_masked: &str,
        phone: &str,
    ) -> QueryResult<Enterprise> {
        diesel::update(enterprises::table.find(id))
            .set((
                enterprises::legal_rep_name.eq(name),
                enterprises::legal_rep_id_enc.eq(id_enc),
                enterprises::legal_rep_id_masked.eq(id_masked),
                enterprises::legal_rep_phone.eq(phone),
            ))
            .returning(Enterprise::as_returning())
            .get_result(conn)
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

    /// Locks the enterprise row: name and status changes of one enterprise
    /// are serialised on it.
    pub async fn lock(conn: &mut AsyncPgConnection, id: EnterpriseId) -> QueryResult<Enterprise> {
        enterprises::table
            .find(id)
            .select(Enterprise::as_select())
            .for_update()
            .first(conn)
            .await
    }

    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
        status: EnterpriseStatus,
    ) -> QueryResult<()> {
        diesel::update(enterprises::table.find(id))
            .set(enterprises::status.eq(status))
            .execute(conn)
            .await
            .map(drop)
    }

    /// The new name after an approved recertification; certified again.
    pub async fn recertify(
        conn: &mut AsyncPgConnection,
        id: EnterpriseId,
        name: &str,
        at: DateTime<Utc>,
    ) -> QueryResult<Enterprise> {
        diesel::update(enterprises::table.find(id))
            .set((
                enterprises::name.eq(name),
                enterprises::status.eq(EnterpriseStatus::Certified),
                enterprises::certified_at.eq(at),
            ))
            .returning(Enterprise::as_returning())
            .get_result(conn)
            .await
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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = memberships, check_for_backend(diesel::pg::Pg))]
pub struct Membership {
    pub enterprise_id: EnterpriseId,
    pub user_id: UserId,
    pub role: MemberRole,
    pub joined_at: DateTime<Utc>,
}

pub struct Memberships;

impl Memberships {
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<Option<Membership>> {
        memberships::table
            .find((enterprise_id, user_id))
            .select(Membership::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn remove(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<()> {
        diesel::delete(memberships::table.find((enterprise_id, user_id)))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn set_role(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
        role: MemberRole,
    ) -> QueryResult<()> {
        diesel::update(memberships::table.find((enterprise_id, user_id)))
            .set(memberships::role.eq(role))
            .execute(conn)
            .await
            .map(drop)
    }

    /// The enterprise's ADMIN.
    pub async fn admin(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
    ) -> QueryResult<Option<UserId>> {
        memberships::table
            .filter(memberships::enterprise_id.eq(enterprise_id))
            .filter(memberships::role.eq(MemberRole::Admin))
            .select(memberships::user_id)
            .first(conn)
            .await
            .optional()
    }

    /// Members after `after` (joined time, user) in joining order.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        after: Option<(DateTime<Utc>, UserId)>,
        limit: i64,
    ) -> QueryResult<Vec<Membership>> {
        let mut query = memberships::table
            .filter(memberships::enterprise_id.eq(enterprise_id))
            .order((memberships::joined_at.asc(), memberships::user_id.asc()))
            .limit(limit)
            .select(Membership::as_select())
            .into_boxed();
        if let Some((at, user)) = after {
            query = query.filter(
                memberships::joined_at.gt(at).or(memberships::joined_at
                    .eq(at)
                    .and(memberships::user_id.gt(user))),
            );
        }
        query.load(conn).await
    }

    pub async fn count(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
    ) -> QueryResult<i64> {
        memberships::table
            .filter(memberships::enterprise_id.eq(enterprise_id))
            .count()
            .get_result(conn)
            .await
    }

    pub async fn of_user(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<Membership>> {
        memberships::table
            .filter(memberships::user_id.eq(user_id))
            .order(memberships::joined_at.asc())
            .select(Membership::as_select())
            .load(conn)
            .await
    }

    /// Replaces the member's business-type grants.
    pub async fn set_business_types(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
        business_types: &[BusinessTypeId],
    ) -> QueryResult<()> {
        diesel::delete(
            member_business_types::table
                .filter(member_business_types::enterprise_id.eq(enterprise_id))
                .filter(member_business_types::user_id.eq(user_id)),
        )
        .execute(conn)
        .await?;
        let rows: Vec<_> = business_types
            .iter()
            .map(|bt| {
                (
                    member_business_types::enterprise_id.eq(enterprise_id),
                    member_business_types::user_id.eq(user_id),
                    member_business_types::business_type_id.eq(*bt),
                )
            })
            .collect();
        diesel::insert_into(member_business_types::table)
            .values(rows)
            .execute(conn)
            .await
            .map(drop)
    }

    /// Every (member, business type) grant of the enterprise.
    pub async fn grants_of_enterprise(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
    ) -> QueryResult<Vec<(UserId, BusinessTypeId)>> {
        member_business_types::table
            .filter(member_business_types::enterprise_id.eq(enterprise_id))
            .select((
                member_business_types::user_id,
                member_business_types::business_type_id,
            ))
            .load(conn)
            .await
    }

    pub async fn business_types_of(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<Vec<BusinessTypeId>> {
        member_business_types::table
            .filter(member_business_types::enterprise_id.eq(enterprise_id))
            .filter(member_business_types::user_id.eq(user_id))
            .select(member_business_types::business_type_id)
            .load(conn)
            .await
    }

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

    /// The role, locked FOR SHARE until the transaction ends.
    pub async fn role_of_locked(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<Option<MemberRole>> {
        memberships::table
            .find((enterprise_id, user_id))
            .select(memberships::role)
            .for_share()
            .first(conn)
            .await
            .optional()
    }

    /// The user's role in the enterprise and the enterprise's status, in
    /// one statement.
    pub async fn role_and_status(
        conn: &mut AsyncPgConnection,
        enterprise_id: EnterpriseId,
        user_id: UserId,
    ) -> QueryResult<Option<(MemberRole, EnterpriseStatus)>> {
        memberships::table
            .inner_join(enterprises::table)
            .filter(memberships::enterprise_id.eq(enterprise_id))
            .filter(memberships::user_id.eq(user_id))
            .select((memberships::role, enterprises::status))
            .first(conn)
            .await
            .optional()
    }

    /// The user's role and the enterprise's status in each enterprise
    /// that signs task `task`, and whether `member_acts` holds there: a
    /// condition on the task `t` in which `$1` is the user and
    /// `m.enterprise_id` the enterprise. One statement.
    pub async fn in_task(
        mut conn: &AsyncPgConnection,
        task: TaskId,
        user_id: UserId,
        member_acts: &str,
    ) -> QueryResult<Vec<TaskMembership>> {
        use diesel::sql_types::Uuid;
        diesel::sql_query(format!(
            "SELECT m.enterprise_id, m.role, e.status, \
               EXISTS (SELECT 1 FROM signing_tasks t WHERE t.id = $2 AND ({member_acts})) \
                 AS member_acts \
             FROM memberships m JOIN enterprises e ON e.id = m.enterprise_id \
             WHERE m.user_id = $1 AND m.enterprise_id IN \
               (SELECT s.enterprise_id FROM task_signers s WHERE s.task_id = $2)"
        ))
        .bind::<Uuid, _>(user_id)
        .bind::<Uuid, _>(task)
        .cached()
        .load(&mut conn)
        .await
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

/// The user's membership in an enterprise that signs a task.
#[derive(Debug, Clone, QueryableByName)]
pub struct TaskMembership {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub enterprise_id: EnterpriseId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub role: MemberRole,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: EnterpriseStatus,
    /// Whether the condition the caller gave holds for the member.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub member_acts: bool,
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

    /// (enterprise, id, name) of the business types of `enterprises`.
    pub async fn of_many(
        conn: &mut AsyncPgConnection,
        enterprises: &[EnterpriseId],
    ) -> QueryResult<Vec<(EnterpriseId, BusinessTypeId, String)>> {
        business_types::table
            .filter(business_types::enterprise_id.eq_any(enterprises))
            .order(business_types::created_at)
            .select((
                business_types::enterprise_id,
                business_types::id,
                business_types::name,
            ))
            .load(conn)
            .await
    }
}
