//! Contract quota (合同份数): what an enterprise may still initiate. Grants
//! come from operators through the CLI until purchases exist; every task
//! consumes one unit when its batch is initiated.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::Enterprise;
use crate::db::enums::QuotaKind;
use crate::db::ids::EnterpriseId;
use crate::db::quota::Quota;
use crate::domain::{Services, audit};
use crate::error::{AppError, AppResult};

/// Adds `amount` contracts to the enterprise's quota (CLI); the new balance.
pub async fn grant(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    enterprise: EnterpriseId,
    amount: i32,
    note: &str,
) -> AppResult<i32> {
    if !(1..=1_000_000).contains(&amount) {
        return Err(AppError::bad_input(
            "amount",
            "grant 1 to 1,000,000 contracts",
        ));
    }
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 200 {
        return Err(AppError::bad_input(
            "note",
            "a note of 1 to 200 characters says why",
        ));
    }
    conn.transaction(async |conn| {
        let enterprise = Enterprise::find_many(conn, &[enterprise])
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("enterprise"))?;
        let balance = Quota::credit(
            conn,
            enterprise.id,
            QuotaKind::Grant,
            amount,
            Some(note),
            None,
            svc.clock.now(),
        )
        .await?;
        audit::record(
            conn,
            svc,
            audit::Entry {
                enterprise: Some(enterprise.id.0),
                actor: None,
                action: "quota.grant",
                target_type: "enterprise",
                target_id: Some(enterprise.id.to_string()),
                details: serde_json::json!({ "amount": amount, "note": note, "balance": balance }),
                client_ip: None,
            },
        )
        .await?;
        Ok(balance)
    })
    .await
}
