//! The `platform_roles` table: OPERATOR and REGULATOR, granted by the CLI.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::PlatformRole;
use crate::db::ids::UserId;
use crate::db::schema::platform_roles;

pub struct PlatformRoles;

impl PlatformRoles {
    /// Grants (or re-grants with a new region); true when it was new.
    pub async fn grant(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
        role: PlatformRole,
        region: Option<&str>,
    ) -> QueryResult<bool> {
        let existed = diesel::update(platform_roles::table.find((user_id, role)))
            .set(platform_roles::region.eq(region))
            .execute(conn)
            .await?;
        if existed == 1 {
            return Ok(false);
        }
        diesel::insert_into(platform_roles::table)
            .values((
                platform_roles::user_id.eq(user_id),
                platform_roles::role.eq(role),
                platform_roles::region.eq(region),
            ))
            .execute(conn)
            .await?;
        Ok(true)
    }

    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
        role: PlatformRole,
    ) -> QueryResult<bool> {
        diesel::delete(platform_roles::table.find((user_id, role)))
            .execute(conn)
            .await
            .map(|n| n == 1)
    }

    pub async fn of_user(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
    ) -> QueryResult<Vec<PlatformRole>> {
        platform_roles::table
            .filter(platform_roles::user_id.eq(user_id))
            .select(platform_roles::role)
            .load(conn)
            .await
    }
}
