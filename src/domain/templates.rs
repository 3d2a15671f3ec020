//! Contract templates (模板管理): an enterprise's PDF with signer roles,
//! field boxes and seal slots. A template belongs to one business type and
//! only members granted that type (and the ADMIN) see or touch it; for
//! everyone else it does not exist. Drafts change, PUBLISHED templates never
//! do (a new version is a copy) and can be DISABLED.
//!
//! - `layout`: checking a layout input and turning it into rows.
//! - `preview`: the template filled with sample or given values, slots
//!   outlined.

pub mod frozen;
pub mod layout;
pub mod preview;

use diesel::dsl::exists;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::{MemberRole, PartyKind, SealKind, TemplateStatus};
use crate::db::field_definitions::{FieldDefinition, fields_of_type};
use crate::db::files::StoredFile;
use crate::db::ids::{BusinessTypeId, EnterpriseId, TemplateId};
use crate::db::schema::{member_business_types, memberships, templates};
use crate::db::templates::{Layout, Template, TemplateFilter};
use crate::domain::membership::visible_business_types;
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::pdf::input::{self, Limits};

/// The one place that says who sees a template: the ADMIN of its
/// enterprise, and members granted its business type.
pub fn visible_to(viewer: &Viewer) -> TemplateFilter {
    let user = viewer.user_id;
    templates::table
        .select(templates::id)
        .filter(exists(
            memberships::table
                .filter(memberships::enterprise_id.eq(templates::enterprise_id))
                .filter(memberships::user_id.eq(user))
                .filter(
                    memberships::role.eq(MemberRole::Admin).or(exists(
                        member_business_types::table
                            .filter(
                                member_business_types::enterprise_id.eq(templates::enterprise_id),
                            )
                            .filter(member_business_types::user_id.eq(user))
                            .filter(
                                member_business_types::business_type_id
                                    .eq(templates::business_type_id),
                            ),
                    )),
                ),
        ))
        .into_boxed()
}

/// A template the viewer sees; NOT_FOUND otherwise.
pub async fn find(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TemplateId,
) -> AppResult<Template> {
    Template::find(conn, id, visible_to(viewer))
        .await?
        .ok_or(AppError::NotFound("template"))
}

/// The same, locked until the transaction ends.
async fn lock(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TemplateId,
) -> AppResult<Template> {
    Template::lock(conn, id, visible_to(viewer))
        .await?
        .ok_or(AppError::NotFound("template"))
}

/// Size (width, height) in points of the box a seal of `kind` is stamped
/// in: 42 mm round seals, 20 mm name seals, signatures 2:1, date seals 4:1.
pub fn slot_size(kind: SealKind) -> (f32, f32) {
    match kind {
        SealKind::Official | SealKind::Contract | SealKind::Finance => (119.0, 119.0),
        SealKind::LegalRepresentative | SealKind::PersonalName => (57.0, 57.0),
        SealKind::Handwritten => (120.0, 60.0),
        SealKind::Date => (120.0, 30.0),
    }
}

/// Whether a signer of `party` stamps seals of `kind`: enterprises their
/// enterprise seals, people their name seal or handwritten signature; both
/// a date seal.
pub fn stamps(party: PartyKind, kind: SealKind) -> bool {
    match party {
        PartyKind::Enterprise => matches!(
            kind,
            SealKind::Official
                | SealKind::Contract
                | SealKind::LegalRepresentative
                | SealKind::Finance
                | SealKind::Date
        ),
        PartyKind::Person => matches!(
            kind,
            SealKind::PersonalName | SealKind::Handwritten | SealKind::Date
        ),
    }
}

fn checked_name(name: &str) -> AppResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name",
            "a template name has 1 to 60 characters",
        ));
    }
    Ok(name)
}

/// The fields templates of `business_type` can place (public + custom).
pub async fn fields_for(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    business_type: BusinessTypeId,
) -> AppResult<Vec<FieldDefinition>> {
    let name = crate::db::enterprises::BusinessTypes::of(conn, enterprise)
        .await?
        .into_iter()
        .find(|(id, _)| *id == business_type)
        .map(|(_, name)| name)
        .ok_or(AppError::NotFound("business type"))?;
    let rows = FieldDefinition::catalogue_and_custom(conn, &[enterprise]).await?;
    Ok(fields_of_type(&rows, enterprise, business_type, &name))
}

async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    template: &Template,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        svc,
        audit::Entry {
            enterprise: Some(template.enterprise_id.0),
            actor: Some(viewer.user_id),
            action,
            target_type: "template",
            target_id: Some(template.id.to_string()),
            details,
            client_ip: Some(&meta.client_ip),
        },
    )
    .await
}

pub struct NewTemplate<'a> {
    pub enterprise: EnterpriseId,
    pub business_type: BusinessTypeId,
    pub name: &'a str,
    pub file_name: &'a str,
    pub pdf: Vec<u8>,
}

/// A DRAFT template from an uploaded PDF, which must pass the engine's
/// input checks; its page sizes are recorded.
pub async fn create(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    new: NewTemplate<'_>,
) -> AppResult<Template> {
    let name = checked_name(new.name)?;
    let pdf = new.pdf;
    let (pdf, pages) = tokio::task::spawn_blocking(move || {
        let pages = input::accept(&pdf, &Limits::default());
        (pdf, pages)
    })
    .await?;
    let pages = pages.map_err(|e| AppError::bad_input("file", e))?;
    let size = i64::try_from(pdf.len()).map_err(AppError::internal)?;
    // Content-addressed: a blob left behind by a failed transaction is
    // harmless and is reused by the next upload of the same bytes.
    let sha256 = svc.storage.save(pdf).await.map_err(AppError::internal)?;
    let file_name = pdf_file_name(new.file_name, name);
    conn.transaction(async |conn| {
        let types = visible_business_types(conn, viewer, new.enterprise).await?;
        if !types.iter().any(|(id, _)| *id == new.business_type) {
            return Err(AppError::NotFound("business type"));
        }
        let file = StoredFile::insert(
            conn,
            &sha256,
            &file_name,
            "application/pdf",
            size,
            Some(viewer.user_id),
        )
        .await?;
        let now = svc.clock.now();
        let template = Template::insert(
            conn,
            &Template {
                id: TemplateId::new(),
                enterprise_id: new.enterprise,
                business_type_id: new.business_type,
                name: name.to_owned(),
                status: TemplateStatus::Draft,
                file_id: file.id,
                page_widths: pages.iter().map(|(w, _)| *w).collect(),
                page_heights: pages.iter().map(|(_, h)| *h).collect(),
                copied_from_id: None,
                created_by: viewer.user_id,
                created_at: now,
                updated_at: now,
                published_at: None,
            },
        )
        .await?;
        let details = serde_json::json!({
            "name": name,
            "businessType": new.business_type.to_string(),
            "pages": pages.len(),
            "sha256": sha256,
        });
        record(
            conn,
            svc,
            meta,
            viewer,
            &template,
            "template.create",
            details,
        )
        .await?;
        Ok(template)
    })
    .await
}

/// The uploaded file's name when it is a sensible one, else the template's.
fn pdf_file_name(uploaded: &str, template: &str) -> String {
    let uploaded = uploaded.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if !uploaded.is_empty()
        && uploaded.chars().count() <= 100
        && !uploaded.chars().any(char::is_control)
    {
        uploaded.to_owned()
    } else {
        format!("{template}.pdf")
    }
}

/// Replaces the roles, fields and slots of a DRAFT template.
pub async fn update_layout(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TemplateId,
    input: &layout::LayoutInput,
) -> AppResult<Template> {
    conn.transaction(async |conn| {
        let template = lock(conn, viewer, id).await?;
        if template.status != TemplateStatus::Draft {
            return Err(AppError::Conflict(
                "a published template never changes; copy it to make a new version".into(),
            ));
        }
        let fields = fields_for(conn, template.enterprise_id, template.business_type_id).await?;
        let rows = layout::build(&template, &fields, input)?;
        rows.replace(conn, template.id).await?;
        let template = Template::touch(conn, template.id, svc.clock.now()).await?;
        let details = serde_json::json!({
            "roles": rows.roles.len(),
            "fieldBoxes": rows.boxes.len(),
            "sealSlots": rows.slots.len(),
        });
        record(
            conn,
            svc,
            meta,
            viewer,
            &template,
            "template.layout",
            details,
        )
        .await?;
        Ok(template)
    })
    .await
}

/// Publishes a DRAFT whose layout is complete: every field its business
/// type requires is placed, at least one ENTERPRISE and one PERSON role,
/// and every role has a seal slot.
pub async fn publish(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TemplateId,
) -> AppResult<Template> {
    conn.transaction(async |conn| {
        let template = lock(conn, viewer, id).await?;
        if template.status != TemplateStatus::Draft {
            return Err(AppError::Conflict("only a draft can be published".into()));
        }
        let fields = fields_for(conn, template.enterprise_id, template.business_type_id).await?;
        let rows = Layout::of_template(conn, template.id).await?;
        layout::check_complete(&fields, &rows)?;
        let now = svc.clock.now();
        let template =
            Template::set_status(conn, template.id, TemplateStatus::Published, Some(now), now)
                .await?;
        record(
            conn,
            svc,
            meta,
            viewer,
            &template,
            "template.publish",
            serde_json::json!({}),
        )
        .await?;
        Ok(template)
    })
    .await
}

/// PUBLISHED <-> DISABLED; asking for the status a template has changes
/// nothing.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TemplateId,
    status: TemplateStatus,
) -> AppResult<Template> {
    if status == TemplateStatus::Draft {
        return Err(AppError::bad_input(
            "status",
            "a template never returns to draft; copy it instead",
        ));
    }
    conn.transaction(async |conn| {
        let template = lock(conn, viewer, id).await?;
        if template.status == TemplateStatus::Draft {
            return Err(AppError::Conflict(
                "a draft is published with publishTemplate".into(),
            ));
        }
        if template.status == status {
            return Ok(template);
        }
        let template = Template::set_status(
            conn,
            template.id,
            status,
            template.published_at,
            svc.clock.now(),
        )
        .await?;
        let details = serde_json::json!({ "status": status.as_str() });
        record(
            conn,
            svc,
            meta,
            viewer,
            &template,
            "template.status",
            details,
        )
        .await?;
        Ok(template)
    })
    .await
}

/// A new DRAFT with the file and layout of any template the viewer sees.
pub async fn copy(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: TemplateId,
    name: &str,
) -> AppResult<Template> {
    let name = checked_name(name)?;
    conn.transaction(async |conn| {
        let source = find(conn, viewer, id).await?;
        let rows = Layout::of_template(conn, source.id).await?;
        let now = svc.clock.now();
        let copy = Template::insert(
            conn,
            &Template {
                id: TemplateId::new(),
                name: name.to_owned(),
                status: TemplateStatus::Draft,
                copied_from_id: Some(source.id),
                created_by: viewer.user_id,
                created_at: now,
                updated_at: now,
                published_at: None,
                ..source.clone()
            },
        )
        .await?;
        rows.copied_to(copy.id).insert(conn).await?;
        let details = serde_json::json!({ "name": name, "from": source.id.to_string() });
        record(conn, svc, meta, viewer, &copy, "template.copy", details).await?;
        Ok(copy)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_stamp_their_own_kinds_of_seal() {
        assert!(stamps(PartyKind::Enterprise, SealKind::Official));
        assert!(stamps(PartyKind::Enterprise, SealKind::Date));
        assert!(!stamps(PartyKind::Enterprise, SealKind::Handwritten));
        assert!(stamps(PartyKind::Person, SealKind::Handwritten));
        assert!(!stamps(PartyKind::Person, SealKind::Official));
    }

    #[test]
    fn uploaded_names_lose_their_directories() {
        assert_eq!(pdf_file_name("C:\\合同\\劳动合同.pdf", "t"), "劳动合同.pdf");
        assert_eq!(pdf_file_name("", "劳动合同"), "劳动合同.pdf");
        assert_eq!(pdf_file_name("a\u{0}.pdf", "t"), "t.pdf");
    }
}
