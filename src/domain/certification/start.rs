//! Starting a certification (DRAFT, for preview) and confirming it, which
//! asks for the authorization the chosen method needs.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::config::EnterpriseCertKind;
use crate::db::certificate_orders::{CertificateOrder, NewCertificateOrder, OrderChanges};
use crate::db::enterprises::{Enterprise, NewEnterprise};
use crate::db::enums::{
    CertificateKind, CertificationMethod, OrderKind, OrderStatus, RealNameStatus, SmsPurpose,
};
use crate::db::ids::{EnterpriseId, OrderId};
use crate::db::outbox::SmsMessage;
use crate::db::users::User;
use crate::domain::accounts::phone::parse_phone;
use crate::domain::accounts::profile::parse_email;
use crate::domain::accounts::sms_codes::issue_code_in;
use crate::domain::certification::{lock_own, require_status, transition};
use crate::domain::identity_numbers::{
    bank_card_valid, mask_bank_card, mask_id_number, resident_id_valid, uscc_valid,
};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::identity::{PersonFacts, Verdict};
use crate::notify::texts;

/// Seal kinds an enterprise can ask for at certification.
pub const ENTERPRISE_SEAL_KINDS: [&str; 4] =
    ["OFFICIAL", "CONTRACT", "LEGAL_REPRESENTATIVE", "FINANCE"];

pub struct EnterpriseInfo<'a> {
    pub name: &'a str,
    pub uscc: &'a str,
    pub address: Option<&'a str>,
    pub legal_rep_name: &'a str,
    pub legal_rep_id_number: &'a str,
    pub legal_rep_phone: &'a str,
    pub legal_rep_bank_card: Option<&'a str>,
}

pub struct Handler<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
    pub email: &'a str,
}

pub struct StartInput<'a> {
    pub enterprise: EnterpriseInfo<'a>,
    pub method: CertificationMethod,
    pub handler: Handler<'a>,
    pub seal_kinds: Vec<String>,
    pub csr_pem: Option<&'a str>,
    pub accept_agreements: bool,
}

const ID_CONTEXT: &[u8] = b"id_number";
const MAX_ORDERS_PER_HOUR: i64 = 5;

fn person_name(field: &str, raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(2..=40).contains(&len) || name.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
        return Err(AppError::bad_input(
            field,
            "name must be 2 to 40 characters without digits",
        ));
    }
    Ok(name.to_owned())
}

/// A name the square seal can carry (at most 12 characters the font has).
fn drawable_name(field: &str, raw: &str) -> AppResult<String> {
    let name = person_name(field, raw)?;
    if name.chars().count() > 12 || !crate::seal_images::can_draw(&name) {
        return Err(AppError::bad_input(
            field,
            "the name must be at most 12 characters the seal font can draw",
        ));
    }
    Ok(name)
}

/// An enterprise name: it goes on the round seal and into the certificate
/// (CN, O).
pub fn enterprise_name(field: &str, raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if !(2..=40).contains(&name.chars().count()) || !crate::seal_images::can_draw(name) {
        return Err(AppError::bad_input(
            field,
            "enterprise name must be 2 to 40 characters the seal font can draw",
        ));
    }
    Ok(name.to_owned())
}

fn resident_id(field: &str, raw: &str) -> AppResult<String> {
    let id = raw.trim().to_uppercase();
    if resident_id_valid(&id) {
        Ok(id)
    } else {
        Err(AppError::bad_input(
            field,
            "ID number is not a valid resident ID number",
        ))
    }
}

/// A legal representative as given.
pub struct LegalRepresentative<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
}

/// A legal representative whose phone the carrier confirmed as theirs.
pub struct CheckedLegalRepresentative {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

pub async fn check_legal_representative(
    svc: &Services<'_>,
    person: &LegalRepresentative<'_>,
) -> AppResult<CheckedLegalRepresentative> {
    let name = drawable_name("name", person.name)?;
    let id_number = resident_id("idNumber", person.id_number)?;
    let phone = parse_phone("phone", person.phone)?;
    let facts = PersonFacts {
        name: &name,
        id_number: &id_number,
        phone: &phone,
        bank_card: None,
    };
    if let Verdict::Mismatch(reason) = svc
        .identity
        .check_carrier_3(&facts)
        .await
        .map_err(AppError::internal)?
    {
        return Err(AppError::bad_input("phone", reason));
    }
    Ok(CheckedLegalRepresentative {
        name,
        id_number,
        phone,
    })
}

/// Checks every field and keeps what the order needs.
struct Checked {
    name: String,
    uscc: String,
    legal_rep_name: String,
    legal_rep_id: String,
    legal_rep_phone: String,
    bank_card: Option<String>,
    handler_name: String,
    handler_id: String,
    handler_phone: String,
    handler_email: String,
    seal_kinds: Vec<String>,
    kind: CertificateKind,
}

fn check(svc: &Services<'_>, input: &StartInput<'_>) -> AppResult<Checked> {
    if !input.accept_agreements {
        return Err(AppError::bad_input(
            "acceptAgreements",
            "the certification agreements must be accepted",
        ));
    }
    let info = &input.enterprise;
    let name = enterprise_name("enterprise.name", info.name)?;
    let uscc = info.uscc.trim().to_uppercase();
    if !uscc_valid(&uscc) {
        return Err(AppError::bad_input(
            "enterprise.uscc",
            "unified social credit code is not valid (GB 32100)",
        ));
    }
    let bank_card = match (input.method, info.legal_rep_bank_card) {
        (CertificationMethod::LegalRepBankCard, Some(card)) if bank_card_valid(card.trim()) => {
            Some(card.trim().to_owned())
        }
        (CertificationMethod::LegalRepBankCard, _) => {
            return Err(AppError::bad_input(
                "enterprise.legalRepBankCard",
                "a valid bank card number is required",
            ));
        }
        _ => None,
    };
    let mut seal_kinds = input.seal_kinds.clone();
    seal_kinds.sort();
    seal_kinds.dedup();
    if seal_kinds.is_empty()
        || seal_kinds
            .iter()
            .any(|k| !ENTERPRISE_SEAL_KINDS.contains(&k.as_str()))
    {
        return Err(AppError::bad_input(
            "sealKinds",
            "ask for at least one of OFFICIAL, CONTRACT, LEGAL_REPRESENTATIVE, FINANCE",
        ));
    }
    let kind = match (svc.config.enterprise_cert_kind, input.csr_pem) {
        (EnterpriseCertKind::Cloud, None) => CertificateKind::Cloud,
        (EnterpriseCertKind::Cloud, Some(_)) => {
            return Err(AppError::bad_input(
                "csrPem",
                "cloud certificates need no certificate request",
            ));
        }
        (EnterpriseCertKind::Ukey, Some(csr)) => {
            let key = crate::pki::ca::request_public_key(csr)
                .map_err(|e| AppError::bad_input("csrPem", e.to_string()))?;
            if !crate::domain::certificates::ca_algorithm(svc).accepts(&key) {
                return Err(AppError::bad_input(
                    "csrPem",
                    "the request's key is not of the platform's certificate algorithm",
                ));
            }
            CertificateKind::Ukey
        }
        (EnterpriseCertKind::Ukey, None) => {
            return Err(AppError::bad_input(
                "csrPem",
                "UKey certificates need a PKCS#10 request from the key",
            ));
        }
    };
    Ok(Checked {
        name,
        uscc,
        legal_rep_name: drawable_name("enterprise.legalRepName", info.legal_rep_name)?,
        legal_rep_id: resident_id("enterprise.legalRepIdNumber", info.legal_rep_id_number)?,
        legal_rep_phone: parse_phone("enterprise.legalRepPhone", info.legal_rep_phone)?,
        bank_card,
        handler_name: person_name("handler.name", input.handler.name)?,
        handler_id: resident_id("handler.idNumber", input.handler.id_number)?,
        handler_phone: parse_phone("handler.phone", input.handler.phone)?,
        handler_email: parse_email("handler.email", input.handler.email)?,
        seal_kinds,
        kind,
    })
}

/// Creates the enterprise (CERTIFYING) and a DRAFT order for the viewer,
/// who must be real-name verified.
pub async fn start(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    input: StartInput<'_>,
) -> AppResult<CertificateOrder> {
    let user = User::find(conn, viewer.user_id).await?;
    if user.real_name_status != RealNameStatus::Verified {
        return Err(AppError::Forbidden(
            "complete real-name verification before certifying an enterprise",
        ));
    }
    let c = check(svc, &input)?;
    // The bank checks the legal representative's card before anything is kept.
    // Orders cost identity checks and SMS: a few an hour per applicant.
    let since = svc.clock.now() - chrono::TimeDelta::hours(1);
    if CertificateOrder::count_by_applicant_since(conn, viewer.user_id, since).await?
        >= MAX_ORDERS_PER_HOUR
    {
        return Err(AppError::RateLimited {
            message: "too many certification applications in the last hour, try later",
            retry_after_seconds: Some(3600),
        });
    }
    // The legal representative's data must hold before anything is kept: the
    // bank checks the card, or the carrier checks that the phone is theirs
    // (the code sent there is only worth as much as that check).
    let facts = PersonFacts {
        name: &c.legal_rep_name,
        id_number: &c.legal_rep_id,
        phone: &c.legal_rep_phone,
        bank_card: c.bank_card.as_deref(),
    };
    let (verdict, field) = if c.bank_card.is_some() {
        let verdict = svc
            .identity
            .check_bank_card_4(&facts)
            .await
            .map_err(AppError::internal)?;
        (verdict, "enterprise.legalRepBankCard")
    } else {
        let verdict = svc
            .identity
            .check_carrier_3(&facts)
            .await
            .map_err(AppError::internal)?;
        (verdict, "enterprise.legalRepPhone")
    };
    if let Verdict::Mismatch(reason) = verdict {
        return Err(AppError::bad_input(field, reason));
    }
    let seal = |id: &str| {
        svc.keys
            .seal(id.as_bytes(), ID_CONTEXT)
            .map_err(AppError::internal)
    };
    let legal_rep_id_enc = seal(&c.legal_rep_id)?;
    let handler_id_enc = seal(&c.handler_id)?;
    let order = conn
        .transaction(async |conn| {
            let enterprise = Enterprise::insert(
                conn,
                &NewEnterprise {
                    id: EnterpriseId::new(),
                    name: &c.name,
                    uscc: &c.uscc,
                    address: input.enterprise.address.map(str::trim),
                    legal_rep_name: &c.legal_rep_name,
                    legal_rep_id_enc: &legal_rep_id_enc,
                    legal_rep_id_masked: &mask_id_number(&c.legal_rep_id),
                    legal_rep_phone: &c.legal_rep_phone,
                    certificate_kind: c.kind,
                },
            )
            .await?;
            let order = CertificateOrder::insert(
                conn,
                &NewCertificateOrder {
                    id: OrderId::new(),
                    enterprise_id: enterprise.id,
                    applicant_id: viewer.user_id,
                    kind: OrderKind::New,
                    method: input.method,
                    status: OrderStatus::Draft,
                    certificate_kind: c.kind,
                    csr_pem: input.csr_pem,
                    seal_kinds: c.seal_kinds.clone(),
                    handler_name: &c.handler_name,
                    handler_id_enc: &handler_id_enc,
                    handler_id_masked: &mask_id_number(&c.handler_id),
                    handler_phone: &c.handler_phone,
                    handler_email: Some(&c.handler_email),
                    legal_rep_bank_card_masked: c
                        .bank_card
                        .as_deref()
                        .map(mask_bank_card)
                        .as_deref(),
                    new_name: None,
                    renews_certificate_id: None,
                },
            )
            .await?;
            // The platform's chain: the enterprise's own begins with its
            // approval (a revoked application leaves no enterprise behind).
            let entry = crate::domain::audit::Entry {
                enterprise: None,
                actor: Some(viewer.user_id),
                action: "certificate_order.start",
                target_type: "certificate_order",
                target_id: Some(order.id.to_string()),
                details: serde_json::json!({
                    "enterprise": enterprise.id.to_string(),
                    "method": input.method.as_str(),
                    "uscc": c.uscc,
                }),
                client_ip: Some(&meta.client_ip),
            };
            crate::domain::audit::record(conn, svc, entry).await?;
            Ok::<_, AppError>(order)
        })
        .await?;
    Ok(order)
}

/// A random amount of 1 to 99 fen (under one yuan).
fn random_amount_fen() -> AppResult<u32> {
    let mut byte = [0u8; 1];
    loop {
        openssl::rand::rand_bytes(&mut byte).map_err(AppError::internal)?;
        // 198 is the largest multiple of 99 below 256: no modulo bias.
        if byte[0] < 198 {
            return Ok(u32::from(byte[0] % 99) + 1);
        }
    }
}

pub fn payment_mac(svc: &Services<'_>, order: OrderId, fen: u32) -> AppResult<Vec<u8>> {
    svc.keys
        .mac(b"order-payment", format!("{order}|{fen}").as_bytes())
        .map_err(AppError::internal)
}

/// DRAFT -> AWAITING_AUTHORIZATION: a code to the legal representative's
/// phone, or a small transfer to the enterprise account to report back.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<CertificateOrder> {
    let order = conn
        .transaction(async |conn| {
            let order = lock_own(conn, viewer, id).await?;
            require_status(&order, &[OrderStatus::Draft])?;
            let enterprise = Enterprise::find(conn, order.enterprise_id).await?;
            let mut changes = OrderChanges::default();
            let mac;
            match order.method {
                CertificationMethod::LegalRepPhone | CertificationMethod::LegalRepBankCard => {
                    issue_code_in(
                        conn,
                        svc,
                        meta,
                        &enterprise.legal_rep_phone,
                        SmsPurpose::OrderAuthorization,
                        true,
                    )
                    .await?;
                }
                CertificationMethod::CorporatePayment => {
                    // The local payment adapter: the "bank" tells the legal
                    // representative of the incoming transfer, as banks do.
                    let fen = random_amount_fen()?;
                    mac = payment_mac(svc, order.id, fen)?;
                    changes.payment_mac = Some(&mac);
                    let text = texts::payment_received(&enterprise.name, fen);
                    SmsMessage::enqueue(conn, &enterprise.legal_rep_phone, &text, true, None)
                        .await?;
                }
            }
            transition(
                conn,
                svc,
                viewer,
                Some(&meta.client_ip),
                &order,
                OrderStatus::AwaitingAuthorization,
                &changes,
            )
            .await
        })
        .await?;
    svc.outbox.wake();
    Ok(order)
}
