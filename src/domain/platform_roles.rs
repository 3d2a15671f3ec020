//! Platform roles (OPERATOR, REGULATOR): granted and revoked only from the
//! command line, never through the API; every change is audited.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::PlatformRole;
use crate::db::platform_roles::PlatformRoles;
use crate::db::users::User;
use crate::domain::accounts::phone::parse_phone;
use crate::domain::{Services, audit};
use crate::error::{AppError, AppResult};

pub async fn grant(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    raw_phone: &str,
    role: PlatformRole,
    region: Option<&str>,
) -> AppResult<()> {
    let phone = parse_phone("phone", raw_phone)?;
    conn.transaction(async |conn| {
        let user = User::find_by_phone(conn, &phone)
            .await?
            .ok_or(AppError::NotFound("user with this phone"))?;
        PlatformRoles::grant(conn, user.id, role, region).await?;
        let entry = audit::Entry {
            enterprise: None,
            actor: None,
            action: "platform_role.grant",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            details: serde_json::json!({ "role": role.as_str(), "region": region }),
            client_ip: None,
        };
        audit::record(conn, svc, entry).await
    })
    .await
}

pub async fn revoke(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    raw_phone: &str,
    role: PlatformRole,
) -> AppResult<()> {
    let phone = parse_phone("phone", raw_phone)?;
    conn.transaction(async |conn| {
        let user = User::find_by_phone(conn, &phone)
            .await?
            .ok_or(AppError::NotFound("user with this phone"))?;
        if !PlatformRoles::revoke(conn, user.id, role).await? {
            return Err(AppError::Conflict(format!(
                "the user does not hold {}",
                role.as_str()
            )));
        }
        let entry = audit::Entry {
            enterprise: None,
            actor: None,
            action: "platform_role.revoke",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            details: serde_json::json!({ "role": role.as_str() }),
            client_ip: None,
        };
        audit::record(conn, svc, entry).await
    })
    .await
}
