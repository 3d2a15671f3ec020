//! Real-name verification (实名认证): start a check with a provider, confirm it
//! by SMS code or by the provider's callback, and fix the identity on success.

use chrono::TimeDelta;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::{CheckStatus, IdType, RealNameMethod, RealNameStatus, SmsPurpose};
use crate::db::identity_checks::{IdentityCheck, NewIdentityCheck};
use crate::db::ids::IdentityCheckId;
use crate::db::users::{User, VerifiedIdentity};
use crate::domain::accounts::profile::parse_email;
use crate::domain::accounts::sms_codes::{check_code, consume, issue_code_in};
use crate::domain::identity_numbers::{
    bank_card_valid, mask_bank_card, mask_id_number, resident_id_valid,
};
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::identity::{PersonFacts, Verdict};

pub struct StartInput<'a> {
    pub id_type: IdType,
    pub name: &'a str,
    pub id_number: &'a str,
    pub email: Option<&'a str>,
    pub method: RealNameMethod,
    pub bank_card_number: Option<&'a str>,
    pub accept_agreements: bool,
}

/// A check as the API shows it; `face_url` only right after a FACE start.
pub struct Verification {
    pub check: IdentityCheck,
    pub face_url: Option<String>,
}

/// The lookup-hash context of ID numbers (users, task signers).
pub const ID_CONTEXT: &[u8] = b"id_number";
const MAX_CHECKS_PER_HOUR: i64 = 5;

fn normalise_id_number(id_type: IdType, raw: &str) -> AppResult<String> {
    let id = raw.trim().to_uppercase();
    let ok = match id_type {
        IdType::ResidentIdCard => resident_id_valid(&id),
        _ => (5..=20).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()),
    };
    if ok {
        Ok(id)
    } else {
        Err(AppError::bad_input(
            "idNumber",
            "ID number is not valid for its type",
        ))
    }
}

fn normalise_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(2..=40).contains(&len) || name.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
        return Err(AppError::bad_input(
            "name",
            "name must be 2 to 40 characters without digits",
        ));
    }
    Ok(name.to_owned())
}

pub async fn start(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    input: StartInput<'_>,
) -> AppResult<Verification> {
    if !input.accept_agreements {
        return Err(AppError::bad_input(
            "acceptAgreements",
            "the real-name agreements must be accepted",
        ));
    }
    let name = normalise_name(input.name)?;
    let id_number = normalise_id_number(input.id_type, input.id_number)?;
    let email = input.email.map(|e| parse_email("email", e)).transpose()?;
    let bank_card = match (input.method, input.bank_card_number) {
        (RealNameMethod::BankCard4, Some(card)) if bank_card_valid(card.trim()) => {
            Some(card.trim())
        }
        (RealNameMethod::BankCard4, _) => {
            return Err(AppError::bad_input(
                "bankCardNumber",
                "a valid bank card number is required",
            ));
        }
        _ => None,
    };
    let user = User::find(conn, viewer.user_id).await?;
    if user.real_name_status == RealNameStatus::Verified {
        return Err(AppError::Conflict(
            "real-name verification is already complete".into(),
        ));
    }
    // Checks cost money and carry personal data: limit them before the provider.
    let now = svc.clock.now();
    if IdentityCheck::count_since(conn, user.id, now - TimeDelta::hours(1)).await?
        >= MAX_CHECKS_PER_HOUR
    {
        return Err(AppError::RateLimited {
            message: "too many real-name verifications in the last hour, try later",
            retry_after_seconds: Some(3600),
        });
    }
    let id_enc = svc
        .keys
        .seal(id_number.as_bytes(), ID_CONTEXT)
        .map_err(AppError::internal)?;
    let id_hash = svc
        .keys
        .lookup_hash(ID_CONTEXT, id_number.as_bytes())
        .map_err(AppError::internal)?;
    let facts = PersonFacts {
        name: &name,
        id_number: &id_number,
        phone: &user.phone,
        bank_card,
    };
    let provider = svc.identity;
    let (verdict, reference, face_url) = match input.method {
        RealNameMethod::Face => {
            let session = provider
                .start_face(&facts)
                .await
                .map_err(AppError::internal)?;
            (Verdict::Match, session.reference, Some(session.url))
        }
        RealNameMethod::BankCard4 => {
            let verdict = provider
                .check_bank_card_4(&facts)
                .await
                .map_err(AppError::internal)?;
            (verdict, uuid::Uuid::new_v4().to_string(), None)
        }
        RealNameMethod::Carrier3 => {
            let verdict = provider
                .check_carrier_3(&facts)
                .await
                .map_err(AppError::internal)?;
            (verdict, uuid::Uuid::new_v4().to_string(), None)
        }
    };
    let (status, failure) = match &verdict {
        Verdict::Match => (CheckStatus::Pending, None),
        Verdict::Mismatch(reason) => (CheckStatus::Failed, Some(reason.as_str())),
    };
    let masked_card = bank_card.map(mask_bank_card);
    let check = conn
        .transaction(async |conn| {
            let locked = User::lock(conn, user.id).await?;
            if locked.real_name_status == RealNameStatus::Verified {
                return Err(AppError::Conflict(
                    "real-name verification is already complete".into(),
                ));
            }
            // Only the newest check may complete; older ones end here.
            IdentityCheck::supersede_pending(conn, user.id).await?;
            if status == CheckStatus::Pending && input.method != RealNameMethod::Face {
                issue_code_in(conn, svc, meta, &user.phone, SmsPurpose::RealName, true).await?;
            }
            let check = IdentityCheck::insert(
                conn,
                &NewIdentityCheck {
                    id: IdentityCheckId::new(),
                    user_id: user.id,
                    method: input.method,
                    status,
                    id_type: input.id_type,
                    name: &name,
                    id_number_enc: &id_enc,
                    id_number_hash: &id_hash,
                    id_number_masked: &mask_id_number(&id_number),
                    email: email.as_deref(),
                    bank_card_masked: masked_card.as_deref(),
                    provider: provider.name(),
                    provider_ref: &reference,
                    failure_reason: failure,
                    client_ip: &meta.client_ip,
                    user_agent: meta.user_agent.as_deref(),
                    completed_at: (status == CheckStatus::Failed).then(|| svc.clock.now()),
                },
            )
            .await?;
            let user_status = match status {
                CheckStatus::Failed => RealNameStatus::Failed,
                _ => RealNameStatus::Pending,
            };
            User::set_real_name_status(conn, user.id, user_status).await?;
            Ok::<_, AppError>(check)
        })
        .await?;
    svc.outbox.wake();
    Ok(Verification { check, face_url })
}

/// Confirms a bank-card or carrier check with the code sent to the user's phone.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    id: IdentityCheckId,
    sms_code: &str,
) -> AppResult<Verification> {
    let user = User::find(conn, viewer.user_id).await?;
    let code_id = check_code(
        conn,
        svc,
        "smsCode",
        &user.phone,
        SmsPurpose::RealName,
        sms_code,
    )
    .await?;
    let check = conn
        .transaction(async |conn| {
            let check = IdentityCheck::lock(conn, id)
                .await?
                .filter(|c| c.user_id == viewer.user_id)
                .ok_or(AppError::NotFound("real-name verification"))?;
            if check.method == RealNameMethod::Face {
                return Err(AppError::bad_input(
                    "id",
                    "face checks complete through the provider, not by code",
                ));
            }
            if check.status != CheckStatus::Pending {
                return Err(AppError::Conflict(
                    "this verification is already finished".into(),
                ));
            }
            consume(conn, "smsCode", code_id).await?;
            finish(conn, svc, check, None).await
        })
        .await?;
    Ok(Verification {
        check,
        face_url: None,
    })
}

/// The provider's verdict on a FACE check (webhook or local face page).
/// Idempotent: a finished check is returned unchanged.
pub async fn complete_from_provider(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    provider: &str,
    reference: &str,
    verdict: Verdict,
) -> AppResult<IdentityCheck> {
    conn.transaction(async |conn| {
        let check = IdentityCheck::lock_by_provider_ref(conn, provider, reference)
            .await?
            .ok_or(AppError::NotFound("identity check"))?;
        if check.status != CheckStatus::Pending {
            return Ok(check);
        }
        let failure = match verdict {
            Verdict::Match => None,
            Verdict::Mismatch(reason) => Some(reason),
        };
        finish(conn, svc, check, failure).await
    })
    .await
}

/// Records the outcome; on success fixes the user's verified identity,
/// unless the user is verified already (a verified identity never changes).
async fn finish(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    check: IdentityCheck,
    failure: Option<String>,
) -> AppResult<IdentityCheck> {
    let user = User::lock(conn, check.user_id).await?;
    let event = Event::UserUpdated { user: user.id };
    if user.real_name_status == RealNameStatus::Verified {
        return Ok(IdentityCheck::complete(
            conn,
            check.id,
            CheckStatus::Failed,
            Some("账号已完成实名认证"),
        )
        .await?);
    }
    let Some(reason) = failure else {
        let done = IdentityCheck::complete(conn, check.id, CheckStatus::Verified, None).await?;
        let now = svc.clock.now();
        User::set_verified_identity(
            conn,
            check.user_id,
            &VerifiedIdentity {
                name: &check.name,
                id_type: check.id_type,
                id_number_enc: &check.id_number_enc,
                id_number_hash: &check.id_number_hash,
                id_number_masked: &check.id_number_masked,
                email: check.email.as_deref(),
                real_name_status: RealNameStatus::Verified,
                real_name_verified_at: now,
                updated_at: now,
            },
        )
        .await?;
        let certificate = crate::domain::certificates::issue_person_certificate(
            conn,
            svc,
            check.user_id,
            &check.name,
            &check.id_number_hash,
        )
        .await?;
        // The name seal is a convenience: a name the seal font cannot draw
        // (Latin script, very long) must not stop the verification.
        if check.name.chars().count() <= 12 && crate::seal_images::can_draw(&check.name) {
            crate::domain::seals::create(
                conn,
                svc,
                crate::domain::seals::SealOwner::Person(check.user_id),
                crate::db::enums::SealKind::PersonalName,
                &check.name,
                &check.name,
                Some(certificate.id),
            )
            .await?;
        } else {
            tracing::warn!(user.id = %check.user_id, "no name seal: the name cannot be drawn");
        }
        let entry = audit::Entry {
            enterprise: None,
            actor: Some(check.user_id),
            action: "identity.verify",
            target_type: "user",
            target_id: Some(check.user_id.to_string()),
            details: serde_json::json!({
                "method": check.method.as_str(),
                "provider": check.provider,
                "check": check.id.to_string(),
                "certificateSerial": certificate.serial_hex,
            }),
            client_ip: Some(&check.client_ip),
        };
        audit::record(conn, svc, entry).await?;
        svc.events.publish(conn, event).await?;
        tracing::info!(user.id = %check.user_id, "real-name verification passed");
        return Ok(done);
    };
    let done = IdentityCheck::complete(conn, check.id, CheckStatus::Failed, Some(&reason)).await?;
    User::set_real_name_status(conn, user.id, RealNameStatus::Failed).await?;
    svc.events.publish(conn, event).await?;
    Ok(done)
}

/// The name given for a face check (the local provider decides by it).
pub async fn pending_face_name(
    conn: &mut AsyncPgConnection,
    provider: &str,
    reference: &str,
) -> AppResult<String> {
    let check = IdentityCheck::find_by_provider_ref(conn, provider, reference)
        .await?
        .filter(|c| c.method == RealNameMethod::Face)
        .ok_or(AppError::NotFound("identity check"))?;
    Ok(check.name)
}
