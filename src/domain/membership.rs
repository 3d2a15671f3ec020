//! Membership (加入企业, 企业管理): finding certified enterprises, applying to
//! join, the ADMIN's review and grants, removing members, handing over the
//! ADMIN role, and business types. Visibility: a non-member gets NOT_FOUND
//! for everything about an enterprise; only the ADMIN manages it.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::{BusinessTypes, Enterprise, Memberships};
use crate::db::enums::SealStatus;
use crate::db::enums::{ApplicationStatus, EnterpriseStatus, MemberRole, RealNameStatus};
use crate::db::ids::{ApplicationId, BusinessTypeId, EnterpriseId, SealId, UserId};
use crate::db::join_applications::JoinApplication;
use crate::db::seals::Seal;
use crate::db::users::User;
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};

/// The enterprise as the viewer, a member, sees it; NOT_FOUND otherwise.
pub async fn member_of(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: EnterpriseId,
) -> AppResult<(Enterprise, MemberRole)> {
    // FOR SHARE: inside a transaction the role cannot change (a handover,
    // a removal) until it ends.
    let Some(role) = Memberships::role_of_locked(conn, id, viewer.user_id).await? else {
        return Err(AppError::NotFound("enterprise"));
    };
    Ok((Enterprise::find(conn, id).await?, role))
}

/// The enterprise if the viewer is its ADMIN; NOT_FOUND for non-members,
/// FORBIDDEN for members.
pub async fn admin_of(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: EnterpriseId,
) -> AppResult<Enterprise> {
    let (enterprise, role) = member_of(conn, viewer, id).await?;
    if role != MemberRole::Admin {
        return Err(AppError::Forbidden(
            "only the enterprise's administrator may do this",
        ));
    }
    Ok(enterprise)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one audit row's fields, named at each call"
)]
async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    action: &str,
    target: (&str, String),
    details: serde_json::Value,
) -> AppResult<()> {
    let entry = audit::Entry {
        enterprise: Some(enterprise.0),
        actor: Some(viewer.user_id),
        action,
        target_type: target.0,
        target_id: Some(target.1),
        details,
        client_ip: Some(&meta.client_ip),
    };
    audit::record(conn, svc, entry).await
}

/// Certified enterprises whose name contains `name` (at least 2 characters), at most 20.
pub async fn search(conn: &mut AsyncPgConnection, name: &str) -> AppResult<Vec<Enterprise>> {
    let name = name.trim();
    if name.chars().count() < 2 {
        return Err(AppError::bad_input("name", "type at least 2 characters"));
    }
    Ok(Enterprise::search_certified(conn, name, 20).await?)
}

pub async fn apply_to_join(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    enterprise_id: EnterpriseId,
    reason: &str,
) -> AppResult<JoinApplication> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::bad_input(
            "reason",
            "give a reason of 1 to 200 characters",
        ));
    }
    let user = User::find(conn, viewer.user_id).await?;
    if user.real_name_status != RealNameStatus::Verified {
        return Err(AppError::Forbidden(
            "complete real-name verification before joining an enterprise",
        ));
    }
    let enterprise = Enterprise::find(conn, enterprise_id)
        .await
        .map_err(|e| match e {
            diesel::result::Error::NotFound => AppError::NotFound("enterprise"),
            other => AppError::from(other),
        })?;
    if enterprise.status != EnterpriseStatus::Certified {
        return Err(AppError::NotFound("enterprise"));
    }
    if Memberships::role_of(conn, enterprise_id, viewer.user_id)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(
            "you are already a member of this enterprise".into(),
        ));
    }
    JoinApplication::insert(conn, enterprise_id, viewer.user_id, reason)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => {
                AppError::Conflict("an application to this enterprise is already pending".into())
            }
            other => other,
        })
}

pub async fn cancel_application(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    id: ApplicationId,
) -> AppResult<JoinApplication> {
    conn.transaction(async |conn| {
        let application = JoinApplication::lock(conn, id)
            .await?
            .filter(|a| a.applicant_id == viewer.user_id)
            .ok_or(AppError::NotFound("join application"))?;
        if application.status != ApplicationStatus::Pending {
            return Err(AppError::Conflict(format!(
                "the application is {}",
                application.status.as_str()
            )));
        }
        let now = svc.clock.now();
        Ok(
            JoinApplication::decide(conn, id, ApplicationStatus::Cancelled, None, None, now)
                .await?,
        )
    })
    .await
}

/// Business types must belong to the enterprise.
async fn checked_business_types(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    ids: &[BusinessTypeId],
) -> AppResult<Vec<BusinessTypeId>> {
    let known: Vec<BusinessTypeId> = BusinessTypes::of(conn, enterprise)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.iter().any(|id| !known.contains(id)) {
        return Err(AppError::bad_input(
            "businessTypeIds",
            "a business type does not belong to this enterprise",
        ));
    }
    Ok(ids)
}

/// Seals must be the enterprise's own and not voided.
async fn checked_seals(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    ids: &[SealId],
) -> AppResult<Vec<SealId>> {
    let usable: Vec<SealId> = Seal::of_enterprise(conn, enterprise)
        .await?
        .into_iter()
        .filter(|s| s.status != SealStatus::Voided)
        .map(|s| s.id)
        .collect();
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.iter().any(|id| !usable.contains(id)) {
        return Err(AppError::bad_input(
            "sealIds",
            "a seal does not belong to this enterprise or is voided",
        ));
    }
    Ok(ids)
}

/// Replaces the member's seal grants with `seals`.
async fn set_seal_grants(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    member: UserId,
    seals: &[SealId],
) -> AppResult<()> {
    Seal::revoke_all_grants_of(conn, enterprise, member).await?;
    for seal in seals {
        Seal::grant(conn, *seal, enterprise, member).await?;
    }
    Ok(())
}

pub struct Decision<'a> {
    pub approve: bool,
    pub business_type_ids: &'a [BusinessTypeId],
    pub seal_ids: &'a [SealId],
    pub reason: Option<&'a str>,
}

pub async fn review_application(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: ApplicationId,
    decision: Decision<'_>,
) -> AppResult<JoinApplication> {
    conn.transaction(async |conn| {
        let application = JoinApplication::lock(conn, id)
            .await?
            .ok_or(AppError::NotFound("join application"))?;
        admin_of(conn, viewer, application.enterprise_id)
            .await
            .map_err(|e| match e {
                AppError::Forbidden(_) => AppError::NotFound("join application"),
                other => other,
            })?;
        if application.status != ApplicationStatus::Pending {
            return Err(AppError::Conflict(format!(
                "the application is {}",
                application.status.as_str()
            )));
        }
        let now = svc.clock.now();
        let enterprise = application.enterprise_id;
        let (status, action) = if decision.approve {
            let grants =
                checked_business_types(conn, enterprise, decision.business_type_ids).await?;
            Memberships::add(
                conn,
                enterprise,
                application.applicant_id,
                MemberRole::Member,
            )
            .await?;
            Memberships::set_business_types(conn, enterprise, application.applicant_id, &grants)
                .await?;
            let seals = checked_seals(conn, enterprise, decision.seal_ids).await?;
            set_seal_grants(conn, enterprise, application.applicant_id, &seals).await?;
            (ApplicationStatus::Approved, "member.join")
        } else {
            (ApplicationStatus::Rejected, "member.reject")
        };
        let decided =
            JoinApplication::decide(conn, id, status, Some(viewer.user_id), decision.reason, now)
                .await?;
        let details = serde_json::json!({
            "application": id.to_string(),
            "businessTypes": decision.business_type_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "seals": decision.seal_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            action,
            ("user", application.applicant_id.to_string()),
            details,
        )
        .await?;
        Ok(decided)
    })
    .await
}

/// What a member is allowed: business types, and seals once they exist.
pub struct Grants<'a> {
    pub business_type_ids: &'a [BusinessTypeId],
    pub seal_ids: &'a [SealId],
}

pub async fn update_grants(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    member: UserId,
    grants: Grants<'_>,
) -> AppResult<()> {
    let business_type_ids = grants.business_type_ids;
    conn.transaction(async |conn| {
        admin_of(conn, viewer, enterprise).await?;
        Memberships::lock(conn, enterprise, member)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let seals = checked_seals(conn, enterprise, grants.seal_ids).await?;
        let grants = checked_business_types(conn, enterprise, business_type_ids).await?;
        Memberships::set_business_types(conn, enterprise, member, &grants).await?;
        set_seal_grants(conn, enterprise, member, &seals).await?;
        let details = serde_json::json!({
            "businessTypes": grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "seals": seals.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            "member.grants",
            ("user", member.to_string()),
            details,
        )
        .await
    })
    .await
}

/// Removes a MEMBER (the ADMIN leaves only through `transfer_admin`).
/// `transfer_to` must be another member; the signing issues hand it the
/// member's in-progress work.
pub async fn remove_member(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    member: UserId,
    transfer_to: Option<UserId>,
) -> AppResult<()> {
    conn.transaction(async |conn| {
        admin_of(conn, viewer, enterprise).await?;
        let membership = Memberships::lock(conn, enterprise, member)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        if membership.role == MemberRole::Admin {
            return Err(AppError::Conflict(
                "the administrator leaves by transferring the role".into(),
            ));
        }
        if let Some(to) = transfer_to
            && (to == member || Memberships::role_of(conn, enterprise, to).await?.is_none())
        {
            return Err(AppError::bad_input(
                "transferToUserId",
                "work can only go to another member",
            ));
        }
        Seal::revoke_all_grants_of(conn, enterprise, member).await?;
        Memberships::remove(conn, enterprise, member).await?;
        let details = serde_json::json!({ "transferTo": transfer_to.map(|u| u.to_string()) });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            "member.remove",
            ("user", member.to_string()),
            details,
        )
        .await
    })
    .await
}

/// Makes another member the ADMIN; the old ADMIN leaves the enterprise.
pub async fn transfer_admin(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    to: UserId,
) -> AppResult<Enterprise> {
    conn.transaction(async |conn| {
        let found = admin_of(conn, viewer, enterprise).await?;
        if to == viewer.user_id {
            return Err(AppError::bad_input(
                "toUserId",
                "you are the administrator already",
            ));
        }
        Memberships::lock(conn, enterprise, to)
            .await?
            .ok_or(AppError::bad_input(
                "toUserId",
                "the new administrator must be a member",
            ))?;
        Seal::revoke_all_grants_of(conn, enterprise, viewer.user_id).await?;
        Memberships::remove(conn, enterprise, viewer.user_id).await?;
        Memberships::set_role(conn, enterprise, to, MemberRole::Admin).await?;
        let details = serde_json::json!({ "from": viewer.user_id.to_string() });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            "admin.transfer",
            ("user", to.to_string()),
            details,
        )
        .await?;
        Ok(found)
    })
    .await
}

pub async fn create_business_type(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    name: &str,
) -> AppResult<(BusinessTypeId, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 30 {
        return Err(AppError::bad_input(
            "name",
            "a business type name has 1 to 30 characters",
        ));
    }
    conn.transaction(async |conn| {
        admin_of(conn, viewer, enterprise).await?;
        let id =
            BusinessTypes::add(conn, enterprise, name)
                .await
                .map_err(|e| match AppError::from(e) {
                    AppError::Conflict(_) => {
                        AppError::Conflict("this business type exists already".into())
                    }
                    other => other,
                })?;
        let details = serde_json::json!({ "name": name });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            "business_type.create",
            ("business_type", id.to_string()),
            details,
        )
        .await?;
        Ok((id, name.to_owned()))
    })
    .await
}

/// The business types `user` holds in `enterprise`: all for the ADMIN.
pub async fn granted_business_types(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    user: UserId,
) -> AppResult<Vec<(BusinessTypeId, String)>> {
    let role = Memberships::role_of(conn, enterprise, user).await?;
    let all = BusinessTypes::of(conn, enterprise).await?;
    match role {
        Some(MemberRole::Admin) => Ok(all),
        Some(MemberRole::Member) => {
            let granted = Memberships::business_types_of(conn, enterprise, user).await?;
            Ok(all
                .into_iter()
                .filter(|(id, _)| granted.contains(id))
                .collect())
        }
        None => Ok(Vec::new()),
    }
}

/// The business types the viewer may see: all for the ADMIN, the granted
/// ones for a MEMBER.
pub async fn visible_business_types(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    enterprise: EnterpriseId,
) -> AppResult<Vec<(BusinessTypeId, String)>> {
    let (_, role) = member_of(conn, viewer, enterprise).await?;
    let all = BusinessTypes::of(conn, enterprise).await?;
    if role == MemberRole::Admin {
        return Ok(all);
    }
    let granted = Memberships::business_types_of(conn, enterprise, viewer.user_id).await?;
    Ok(all
        .into_iter()
        .filter(|(id, _)| granted.contains(id))
        .collect())
}

/// A new legal representative (ADMIN only; the carrier confirms the phone is
/// theirs). The old LEGAL_REPRESENTATIVE seals are voided and their grants
/// removed; a new one can then be created.
pub async fn change_legal_representative(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    person: crate::domain::certification::start::LegalRepresentative<'_>,
) -> AppResult<Enterprise> {
    let checked =
        crate::domain::certification::start::check_legal_representative(svc, &person).await?;
    let sealed = svc
        .keys
        .seal(checked.id_number.as_bytes(), b"id_number")
        .map_err(AppError::internal)?;
    conn.transaction(async |conn| {
        admin_of(conn, viewer, enterprise).await?;
        let updated = Enterprise::set_legal_representative(
            conn,
            enterprise,
            &checked.name,
            &sealed,
            &crate::domain::identity_numbers::mask_id_number(&checked.id_number),
            &checked.phone,
        )
        .await?;
        let voided: Vec<String> = crate::domain::seals::void_enterprise_seals(
            conn,
            enterprise,
            Some(crate::db::enums::SealKind::LegalRepresentative),
        )
        .await?
        .iter()
        .map(|seal| seal.id.to_string())
        .collect();
        let details = serde_json::json!({ "name": checked.name, "voidedSeals": voided });
        record(
            conn,
            svc,
            meta,
            viewer,
            enterprise,
            "legal_representative.change",
            ("enterprise", enterprise.to_string()),
            details,
        )
        .await?;
        Ok(updated)
    })
    .await
}
