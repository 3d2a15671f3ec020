//! What approval does, by order kind, inside the reviewer's transaction.
//! Each returns the certificate it issued (if any) and the SMS for the
//! applicant.

use diesel_async::AsyncPgConnection;

use crate::db::certificate_orders::CertificateOrder;
use crate::db::certificates::Certificate;
use crate::db::enterprises::{BusinessTypes, Enterprise, Memberships};
use crate::db::enums::{CertificateKind, MemberRole, SealKind};
use crate::db::ids::CertificateId;
use crate::db::outbox::SmsMessage;
use crate::db::seals::Seal;
use crate::db::users::User;
use crate::domain::certificates::{self, KeySource, Owner};
use crate::domain::{Services, audit, seals};
use crate::error::{AppError, AppResult};
use crate::notify::texts;
use crate::pki::ca::SubjectInfo;

/// Business types every certified enterprise starts with.
pub const DEFAULT_BUSINESS_TYPES: [&str; 4] = ["劳动合同", "劳务派遣合同", "入职", "离职"];

type Approved = (Option<CertificateId>, String);

fn subject(enterprise: &Enterprise) -> SubjectInfo<'_> {
    SubjectInfo {
        common_name: &enterprise.name,
        organization: &enterprise.name,
        serial_number: &enterprise.uscc,
    }
}

async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    let entry = audit::Entry {
        enterprise: Some(order.enterprise_id.0),
        actor: None,
        action,
        target_type: "enterprise",
        target_id: Some(order.enterprise_id.to_string()),
        details,
        client_ip: None,
    };
    audit::record(conn, svc, entry).await
}

/// The enterprise's newest unrevoked certificate.
async fn current_certificate(
    conn: &mut AsyncPgConnection,
    enterprise: &Enterprise,
) -> AppResult<Option<Certificate>> {
    Ok(Certificate::of_enterprise(conn, enterprise.id)
        .await?
        .into_iter()
        .find(|c| c.revoked_at.is_none()))
}

/// NEW: the enterprise is certified, gets its certificate, seals and
/// default business types, and the applicant becomes its ADMIN.
pub async fn new_enterprise(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    enterprise: &Enterprise,
) -> AppResult<Approved> {
    Enterprise::certify(conn, enterprise.id, svc.clock.now()).await?;
    let source = match (order.certificate_kind, order.csr_pem.as_deref()) {
        (CertificateKind::Ukey, Some(csr_pem)) => KeySource::Request { csr_pem },
        _ => KeySource::Cloud,
    };
    let certificate = certificates::issue(
        conn,
        svc,
        Owner::Enterprise(enterprise.id),
        &subject(enterprise),
        source,
    )
    .await?;
    Memberships::add(conn, enterprise.id, order.applicant_id, MemberRole::Admin).await?;
    let seals = create_seals(conn, svc, order, enterprise).await?;
    for name in DEFAULT_BUSINESS_TYPES {
        BusinessTypes::add(conn, enterprise.id, name).await?;
    }
    let details = serde_json::json!({
        "certificate": certificate.serial_hex,
        "admin": order.applicant_id.to_string(),
        "createdSeals": seals
            .iter()
            .map(|s| serde_json::json!({ "id": s.id.to_string(), "kind": s.kind.as_str() }))
            .collect::<Vec<_>>(),
        "businessTypes": DEFAULT_BUSINESS_TYPES,
    });
    record(conn, svc, order, "enterprise.certify", details).await?;
    Ok((
        Some(certificate.id),
        texts::order_approved_sms(&enterprise.name),
    ))
}

async fn create_seals(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    enterprise: &Enterprise,
) -> AppResult<Vec<Seal>> {
    let mut created = Vec::new();
    for kind in &order.seal_kinds {
        let kind: SealKind = kind.parse().map_err(AppError::internal)?;
        created
            .push(seals::create_for(conn, svc, enterprise, kind, seals::default_name(kind)).await?);
    }
    Ok(created)
}

/// RENEWAL: a new certificate for the same subject (a new cloud key, or the
/// UKey's own key again); the seals are signed anew for it. The old one
/// stays valid until it expires.
pub async fn renewal(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    enterprise: &Enterprise,
) -> AppResult<Approved> {
    let old_id = order.renews_certificate_id.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("a renewal order without its certificate"))
    })?;
    let old = Certificate::find(conn, old_id).await?;
    if old.revoked_at.is_some() {
        return Err(AppError::Conflict(
            "the certificate was revoked since the renewal was asked for; reject the order".into(),
        ));
    }
    let source = match old.kind {
        CertificateKind::Cloud => KeySource::Cloud,
        CertificateKind::Ukey => KeySource::SameKeyAs {
            certificate_der: &old.certificate_der,
        },
    };
    let certificate = certificates::issue(
        conn,
        svc,
        Owner::Enterprise(enterprise.id),
        &subject(enterprise),
        source,
    )
    .await?;
    let rebound = seals::rebind_enterprise_seals(conn, svc, enterprise.id, certificate.id).await?;
    let details = serde_json::json!({
        "renewed": old.serial_hex,
        "issued": certificate.serial_hex,
        "reboundSeals": rebound.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    record(conn, svc, order, "certificate.renew", details).await?;
    let not_after = certificate.not_after.format("%Y-%m-%d").to_string();
    Ok((
        Some(certificate.id),
        texts::renewal_approved_sms(&enterprise.name, &not_after),
    ))
}

/// RECERTIFICATION: the new name takes effect, the certificates with the old
/// name are revoked, a new one is issued and the seals are drawn again.
pub async fn recertification(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    enterprise: &Enterprise,
) -> AppResult<Approved> {
    let new_name = order.new_name.as_deref().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("a recertification order without its name"))
    })?;
    let previous = current_certificate(conn, enterprise).await?;
    let mut revoked = Vec::new();
    for old in Certificate::of_enterprise(conn, enterprise.id).await? {
        if old.revoked_at.is_none() {
            certificates::revoke(conn, svc, None, old.id, "superseded").await?;
            revoked.push(old.serial_hex);
        }
    }
    let renamed = Enterprise::recertify(conn, enterprise.id, new_name, svc.clock.now()).await?;
    let source = match (enterprise.certificate_kind, previous.as_ref()) {
        (CertificateKind::Ukey, Some(old)) => KeySource::SameKeyAs {
            certificate_der: &old.certificate_der,
        },
        (CertificateKind::Ukey, None) => {
            return Err(AppError::Conflict(
                "the enterprise has no UKey certificate to reissue; reject the order".into(),
            ));
        }
        (CertificateKind::Cloud, _) => KeySource::Cloud,
    };
    let certificate = certificates::issue(
        conn,
        svc,
        Owner::Enterprise(enterprise.id),
        &subject(&renamed),
        source,
    )
    .await?;
    let created = create_seals(conn, svc, order, &renamed).await?;
    let details = serde_json::json!({
        "from": enterprise.name,
        "to": renamed.name,
        "revokedCertificates": revoked,
        "issued": certificate.serial_hex,
        "createdSeals": created.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(),
    });
    record(conn, svc, order, "enterprise.recertify", details).await?;
    Ok((
        Some(certificate.id),
        texts::recertification_approved_sms(&renamed.name),
    ))
}

/// ADMIN_CHANGE: the applicant becomes the ADMIN and the old ADMIN leaves.
pub async fn admin_change(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    order: &CertificateOrder,
    enterprise: &Enterprise,
) -> AppResult<Approved> {
    let applicant = Memberships::lock(conn, enterprise.id, order.applicant_id)
        .await?
        .ok_or(AppError::Conflict(
            "the applicant is no longer a member; reject the order".into(),
        ))?;
    let old_admin = Memberships::admin(conn, enterprise.id).await?;
    if applicant.role == MemberRole::Admin {
        return Err(AppError::Conflict(
            "the applicant is the administrator already; reject the order".into(),
        ));
    }
    if let Some(old) = old_admin {
        Seal::revoke_all_grants_of(conn, enterprise.id, old).await?;
        Memberships::remove(conn, enterprise.id, old).await?;
        let phone = User::find(conn, old).await?.phone;
        let text = texts::admin_replaced_sms(&enterprise.name);
        SmsMessage::enqueue(conn, &phone, &text, false, None).await?;
    }
    Memberships::set_role(conn, enterprise.id, order.applicant_id, MemberRole::Admin).await?;
    let details = serde_json::json!({
        "from": old_admin.map(|u| u.to_string()),
        "to": order.applicant_id.to_string(),
    });
    record(conn, svc, order, "admin.change", details).await?;
    Ok((None, texts::admin_change_approved_sms(&enterprise.name)))
}
