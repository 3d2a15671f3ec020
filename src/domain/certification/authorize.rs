//! AWAITING_AUTHORIZATION -> AWAITING_MATERIALS: the legal representative's
//! code, or the amount of the verification transfer.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificate_orders::{CertificateOrder, OrderChanges};
use crate::db::enterprises::Enterprise;
use crate::db::enums::{CertificationMethod, OrderStatus, SmsPurpose};
use crate::db::ids::OrderId;
use crate::domain::accounts::sms_codes::{check_code, consume};
use crate::domain::certification::start::payment_mac;
use crate::domain::certification::{lock_own, own_order, require_status, transition};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::pki::secrets::constant_time_eq;

const MAX_AMOUNT_TRIES: i32 = 5;

/// "0.37", "0.37元" or "37" (fen) as fen.
fn parse_amount(raw: &str) -> Option<u32> {
    let text = raw.trim().trim_end_matches('元').trim();
    if let Some(fraction) = text.strip_prefix("0.") {
        let digits: String = fraction.chars().collect();
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{digits:0<2}");
        return padded.parse().ok();
    }
    text.parse::<u32>()
        .ok()
        .filter(|fen| (1..=99).contains(fen))
}

pub async fn submit_authorization_code(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
    code: &str,
) -> AppResult<CertificateOrder> {
    let order = own_order(conn, viewer, id).await?;
    require_status(&order, &[OrderStatus::AwaitingAuthorization])?;
    match order.method {
        CertificationMethod::LegalRepPhone | CertificationMethod::LegalRepBankCard => {
            let enterprise = Enterprise::find(conn, order.enterprise_id).await?;
            let code_id = check_code(
                conn,
                svc,
                "code",
                &enterprise.legal_rep_phone,
                SmsPurpose::OrderAuthorization,
                code,
            )
            .await?;
            conn.transaction(async |conn| {
                let order = lock_own(conn, viewer, id).await?;
                require_status(&order, &[OrderStatus::AwaitingAuthorization])?;
                consume(conn, "code", code_id).await?;
                let changes = OrderChanges::default();
                transition(
                    conn,
                    svc,
                    viewer,
                    Some(&meta.client_ip),
                    &order,
                    OrderStatus::AwaitingMaterials,
                    &changes,
                )
                .await
            })
            .await
        }
        CertificationMethod::CorporatePayment => {
            // Each try is counted at once, so wrong guesses stay counted.
            let tries = CertificateOrder::count_attempt(conn, id).await?;
            if tries > MAX_AMOUNT_TRIES {
                return Err(AppError::bad_input(
                    "code",
                    "too many wrong amounts; revoke this order and start again",
                ));
            }
            let given = parse_amount(code)
                .map(|fen| payment_mac(svc, id, fen))
                .transpose()?;
            let expected = order.payment_mac.clone().unwrap_or_default();
            if !given.is_some_and(|given| constant_time_eq(&given, &expected)) {
                return Err(AppError::bad_input(
                    "code",
                    "the amount does not match the transfer",
                ));
            }
            conn.transaction(async |conn| {
                let order = lock_own(conn, viewer, id).await?;
                require_status(&order, &[OrderStatus::AwaitingAuthorization])?;
                let changes = OrderChanges::default();
                transition(
                    conn,
                    svc,
                    viewer,
                    Some(&meta.client_ip),
                    &order,
                    OrderStatus::AwaitingMaterials,
                    &changes,
                )
                .await
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_yuan_or_fen() {
        assert_eq!(parse_amount("0.37"), Some(37));
        assert_eq!(parse_amount("0.37元"), Some(37));
        assert_eq!(parse_amount("0.3"), Some(30));
        assert_eq!(parse_amount("0.05"), Some(5));
        assert_eq!(parse_amount("37"), Some(37));
        assert_eq!(parse_amount("1.37"), None);
        assert_eq!(parse_amount("0.375"), None);
        assert_eq!(parse_amount("100"), None);
        assert_eq!(parse_amount("abc"), None);
    }
}
