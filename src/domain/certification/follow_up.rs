//! Orders after certification: RENEWAL of the enterprise's certificate,
//! RECERTIFICATION after a name change (开始重新认证), and ADMIN_CHANGE for a
//! member who takes over the administrator role. They walk the steps of a
//! new certification (the legal representative's code, materials, the
//! handler's code, the operator's review); the applicant's own verified
//! account is the handler, and the code goes to the legal representative's
//! phone on record, which the carrier confirmed.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificate_orders::{CertificateOrder, NewCertificateOrder};
use crate::db::certificates::Certificate;
use crate::db::enterprises::Enterprise;
use crate::db::enums::{
    CertificationMethod, EnterpriseStatus, MemberRole, OrderKind, OrderStatus, RealNameStatus,
    SealKind,
};
use crate::db::ids::{CertificateId, EnterpriseId, OrderId};
use crate::db::seals::Seal;
use crate::db::users::User;
use crate::domain::certification::start::enterprise_name;
use crate::domain::membership::{admin_of, member_of};
use crate::domain::{RequestMeta, Services, Viewer, audit, seals};
use crate::error::{AppError, AppResult};

/// What a follow-up order carries besides its kind.
struct Opening<'a> {
    kind: OrderKind,
    new_name: Option<&'a str>,
    renews: Option<CertificateId>,
    seal_kinds: Vec<String>,
}

/// Opens a DRAFT follow-up order for the viewer, in the caller's transaction.
async fn open(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: &Enterprise,
    opening: Opening<'_>,
) -> AppResult<CertificateOrder> {
    let user = User::find(conn, viewer.user_id).await?;
    let (Some(name), Some(id_enc), Some(id_masked), RealNameStatus::Verified) = (
        user.name.as_deref(),
        user.id_number_enc.as_deref(),
        user.id_number_masked.as_deref(),
        user.real_name_status,
    ) else {
        return Err(AppError::Forbidden(
            "complete real-name verification before applying",
        ));
    };
    if CertificateOrder::open_of_kind(conn, enterprise.id, opening.kind)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "a {} order is already open for this enterprise; continue or revoke it",
            opening.kind.as_str()
        )));
    }
    let order = CertificateOrder::insert(
        conn,
        &NewCertificateOrder {
            id: OrderId::new(),
            enterprise_id: enterprise.id,
            applicant_id: viewer.user_id,
            kind: opening.kind,
            method: CertificationMethod::LegalRepPhone,
            status: OrderStatus::Draft,
            certificate_kind: enterprise.certificate_kind,
            csr_pem: None,
            seal_kinds: opening.seal_kinds,
            handler_name: name,
            handler_id_enc: id_enc,
            handler_id_masked: id_masked,
            handler_phone: &user.phone,
            handler_email: user.email.as_deref(),
            legal_rep_bank_card_masked: None,
            new_name: opening.new_name,
            renews_certificate_id: opening.renews,
        },
    )
    .await?;
    let entry = audit::Entry {
        enterprise: Some(enterprise.id.0),
        actor: Some(viewer.user_id),
        action: "certificate_order.start",
        target_type: "certificate_order",
        target_id: Some(order.id.to_string()),
        details: serde_json::json!({
            "kind": order.kind.as_str(),
            "newName": order.new_name,
            "renews": order.renews_certificate_id.map(|c| c.to_string()),
        }),
        client_ip: Some(&meta.client_ip),
    };
    audit::record(conn, svc, entry).await?;
    Ok(order)
}

/// A new enterprise name: every seal is voided and its grants removed, the
/// enterprise needs recertification before anything is signed for it, and a
/// RECERTIFICATION order opens. Also how a revoked recertification starts
/// again.
pub async fn change_name(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise_id: EnterpriseId,
    new_name: &str,
) -> AppResult<CertificateOrder> {
    let new_name = enterprise_name("newName", new_name)?;
    conn.transaction(async |conn| {
        admin_of(conn, viewer, enterprise_id).await?;
        let enterprise = Enterprise::lock(conn, enterprise_id).await?;
        match enterprise.status {
            EnterpriseStatus::Certified if enterprise.name == new_name => {
                return Err(AppError::bad_input(
                    "newName",
                    "this is the enterprise's name already",
                ));
            }
            EnterpriseStatus::Certified | EnterpriseStatus::RecertificationRequired => {}
            EnterpriseStatus::Certifying => {
                return Err(AppError::Conflict(
                    "the enterprise is not certified yet".into(),
                ));
            }
        }
        // The seals to draw again under the new name: the kinds it had.
        let mut kinds: Vec<String> = Seal::of_enterprise(conn, enterprise.id)
            .await?
            .iter()
            .filter(|seal| seal.kind != SealKind::Date)
            .map(|seal| seal.kind.as_str().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            kinds.push(SealKind::Official.as_str().to_owned());
        }
        let voided = seals::void_enterprise_seals(conn, enterprise.id, None).await?;
        Enterprise::set_status(
            conn,
            enterprise.id,
            EnterpriseStatus::RecertificationRequired,
        )
        .await?;
        let opening = Opening {
            kind: OrderKind::Recertification,
            new_name: Some(&new_name),
            renews: None,
            seal_kinds: kinds,
        };
        let order = open(conn, svc, meta, viewer, &enterprise, opening).await?;
        let entry = audit::Entry {
            enterprise: Some(enterprise.id.0),
            actor: Some(viewer.user_id),
            action: "enterprise.rename",
            target_type: "enterprise",
            target_id: Some(enterprise.id.to_string()),
            details: serde_json::json!({
                "from": enterprise.name,
                "to": new_name,
                "voidedSeals": voided.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(),
            }),
            client_ip: Some(&meta.client_ip),
        };
        audit::record(conn, svc, entry).await?;
        Ok(order)
    })
    .await
}

/// A member asks to become the ADMIN (the administrator left or cannot be
/// reached); the legal representative authorizes, an operator decides.
pub async fn apply_for_admin(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise_id: EnterpriseId,
) -> AppResult<CertificateOrder> {
    conn.transaction(async |conn| {
        let (enterprise, role) = member_of(conn, viewer, enterprise_id).await?;
        if role == MemberRole::Admin {
            return Err(AppError::Conflict(
                "you are the administrator already".into(),
            ));
        }
        let opening = Opening {
            kind: OrderKind::AdminChange,
            new_name: None,
            renews: None,
            seal_kinds: Vec::new(),
        };
        open(conn, svc, meta, viewer, &enterprise, opening).await
    })
    .await
}

/// A RENEWAL order for the enterprise's current certificate (ADMIN only).
pub async fn renew(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    certificate_id: CertificateId,
) -> AppResult<CertificateOrder> {
    conn.transaction(async |conn| {
        let certificate = Certificate::find_optional(conn, certificate_id)
            .await?
            .ok_or(AppError::NotFound("certificate"))?;
        let Some(enterprise_id) = certificate.enterprise_id else {
            return Err(if certificate.user_id == Some(viewer.user_id) {
                AppError::bad_input(
                    "certificateId",
                    "personal certificates are not renewed by order",
                )
            } else {
                AppError::NotFound("certificate")
            });
        };
        // Members who cannot manage the enterprise must not learn ids.
        let enterprise = admin_of(conn, viewer, enterprise_id)
            .await
            .map_err(|e| match e {
                AppError::Forbidden(_) | AppError::NotFound(_) => AppError::NotFound("certificate"),
                other => other,
            })?;
        if enterprise.status != EnterpriseStatus::Certified {
            return Err(AppError::Conflict(
                "the enterprise must be certified to renew its certificate".into(),
            ));
        }
        if certificate.revoked_at.is_some() {
            return Err(AppError::Conflict(
                "a revoked certificate cannot be renewed".into(),
            ));
        }
        let current = Certificate::of_enterprise(conn, enterprise.id)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none())
            .map(|c| c.id);
        if current != Some(certificate.id) {
            return Err(AppError::Conflict(
                "a newer certificate replaced this one; renew that one".into(),
            ));
        }
        let opening = Opening {
            kind: OrderKind::Renewal,
            new_name: None,
            renews: Some(certificate.id),
            seal_kinds: Vec::new(),
        };
        open(conn, svc, meta, viewer, &enterprise, opening).await
    })
    .await
}
