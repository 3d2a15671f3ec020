//! A template's layout as the API sends it, checked entry by entry (each
//! refusal names the entry, e.g. `layout.fields[3].page`), and the rules a
//! layout must meet before its template is published.

use std::collections::HashMap;

use crate::db::enums::{FieldType, PartyKind, SealKind};
use crate::db::field_definitions::FieldDefinition;
use crate::db::ids::{FieldBoxId, SealSlotId, TemplateFieldId, TemplateRoleId};
use crate::db::templates::{FieldBox, Layout, Role, SealSlot, Template, TemplateField};
use crate::domain::templates::{slot_size, stamps};
use crate::error::{AppError, AppResult};
use crate::pdf::fill::{DATE_FORMATS, MIN_FONT_SIZE};

pub const MAX_ROLES: usize = 20;
pub const MAX_FIELD_BOXES: usize = 500;
pub const MAX_SEAL_SLOTS: usize = 200;
pub const MAX_FONT_SIZE: f64 = 72.0;
/// Rounding a UI may leave at a page's edge.
const EDGE_TOLERANCE: f64 = 0.5;

pub struct RoleInput {
    pub key: String,
    pub name: String,
    pub kind: PartyKind,
}

pub struct FieldInput {
    pub field_key: String,
    /// 1-based.
    pub page: i32,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub font_size: f64,
    pub required: bool,
    pub date_format: Option<String>,
    /// A PERSON role that fills the value in when signing (乙方补全信息).
    pub filled_by_role_key: Option<String>,
}

pub struct SlotInput {
    pub role_key: String,
    pub seal_kind: SealKind,
    pub page: i32,
    pub x: f64,
    pub y: f64,
}

pub struct LayoutInput {
    pub roles: Vec<RoleInput>,
    pub fields: Vec<FieldInput>,
    pub seal_slots: Vec<SlotInput>,
}

fn bad(path: String, message: impl std::fmt::Display) -> AppError {
    AppError::bad_input(path, message)
}

fn position(index: usize) -> AppResult<i32> {
    i32::try_from(index).map_err(AppError::internal)
}

/// A box on a page: every number finite, inside the page.
fn check_box(
    template: &Template,
    path: &str,
    page: i32,
    (x, y, width, height): (f64, f64, f64, f64),
) -> AppResult<()> {
    let pages: Vec<(f32, f32)> = template.pages().collect();
    let (page_width, page_height) = usize::try_from(page)
        .ok()
        .and_then(|p| p.checked_sub(1))
        .and_then(|p| pages.get(p))
        .copied()
        .ok_or_else(|| {
            bad(
                format!("{path}.page"),
                format!("the template has pages 1 to {}", pages.len()),
            )
        })?;
    for (name, value) in [("x", x), ("y", y), ("width", width), ("height", height)] {
        if !value.is_finite() || value < 0.0 {
            return Err(bad(
                format!("{path}.{name}"),
                "must be a number of points >= 0",
            ));
        }
    }
    if width <= 0.0 || height <= 0.0 {
        return Err(bad(format!("{path}.width"), "the box has no area"));
    }
    if x + width > f64::from(page_width) + EDGE_TOLERANCE {
        return Err(bad(
            format!("{path}.x"),
            format!("the box ends beyond the page's right edge ({page_width} pt)"),
        ));
    }
    if y + height > f64::from(page_height) + EDGE_TOLERANCE {
        return Err(bad(
            format!("{path}.y"),
            format!("the box ends beyond the page's bottom edge ({page_height} pt)"),
        ));
    }
    Ok(())
}

fn check_text(path: String, value: &str, max: usize, what: &str) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(bad(path, format!("{what} has 1 to {max} characters")));
    }
    Ok(value.to_owned())
}

/// The rows of `input` for `template`, whose business type offers `fields`.
pub fn build(
    template: &Template,
    fields: &[FieldDefinition],
    input: &LayoutInput,
) -> AppResult<Layout> {
    if input.roles.len() > MAX_ROLES {
        return Err(bad(
            "layout.roles".into(),
            format!("at most {MAX_ROLES} roles"),
        ));
    }
    if input.fields.len() > MAX_FIELD_BOXES {
        return Err(bad(
            "layout.fields".into(),
            format!("at most {MAX_FIELD_BOXES} field placements"),
        ));
    }
    if input.seal_slots.len() > MAX_SEAL_SLOTS {
        return Err(bad(
            "layout.sealSlots".into(),
            format!("at most {MAX_SEAL_SLOTS} seal slots"),
        ));
    }
    let mut layout = Layout::default();
    let mut role_ids: HashMap<String, (TemplateRoleId, PartyKind)> = HashMap::new();
    for (i, role) in input.roles.iter().enumerate() {
        let path = format!("layout.roles[{i}]");
        let key = check_text(format!("{path}.key"), &role.key, 40, "a role key")?;
        let name = check_text(format!("{path}.name"), &role.name, 30, "a role name")?;
        let id = TemplateRoleId::new();
        if role_ids.insert(key.clone(), (id, role.kind)).is_some() {
            return Err(bad(
                format!("{path}.key"),
                format!("role key {key:?} repeats"),
            ));
        }
        layout.roles.push(Role {
            id,
            template_id: template.id,
            key,
            name,
            kind: role.kind,
            position: position(i)?,
        });
    }
    // The first placement of a field sets its properties; later ones must agree.
    let mut placed: HashMap<&str, (usize, TemplateFieldId)> = HashMap::new();
    for (i, field) in input.fields.iter().enumerate() {
        let path = format!("layout.fields[{i}]");
        let definition = fields
            .iter()
            .find(|f| f.key == field.field_key)
            .ok_or_else(|| {
                bad(
                    format!("{path}.fieldKey"),
                    format!(
                        "no field {:?} in this template's business type",
                        field.field_key
                    ),
                )
            })?;
        check_box(
            template,
            &path,
            field.page,
            (field.x, field.y, field.width, field.height),
        )?;
        if !(f64::from(MIN_FONT_SIZE)..=MAX_FONT_SIZE).contains(&field.font_size) {
            return Err(bad(
                format!("{path}.fontSize"),
                format!("a font size is {MIN_FONT_SIZE} to {MAX_FONT_SIZE} points"),
            ));
        }
        let date_format = match (&field.date_format, definition.field_type) {
            (Some(format), FieldType::Date) => {
                if !DATE_FORMATS.contains(&format.as_str()) {
                    return Err(bad(
                        format!("{path}.dateFormat"),
                        format!("a date format is one of {}", DATE_FORMATS.join(", ")),
                    ));
                }
                Some(format.clone())
            }
            (None, FieldType::Date) => Some(DATE_FORMATS[0].to_owned()),
            (Some(_), _) => {
                return Err(bad(
                    format!("{path}.dateFormat"),
                    format!("{} is not a date field", definition.key),
                ));
            }
            (None, _) => None,
        };
        let filled_by = match &field.filled_by_role_key {
            None => None,
            Some(key) => match role_ids.get(key.trim()) {
                Some((id, PartyKind::Person)) => Some(*id),
                Some((_, PartyKind::Enterprise)) => {
                    return Err(bad(
                        format!("{path}.filledByRoleKey"),
                        "only a PERSON role fills in values when signing",
                    ));
                }
                None => {
                    return Err(bad(
                        format!("{path}.filledByRoleKey"),
                        format!("no role with key {key:?}"),
                    ));
                }
            },
        };
        let properties = TemplateField {
            id: TemplateFieldId::new(),
            template_id: template.id,
            field_id: definition.id,
            font_size: field.font_size as f32,
            required: field.required,
            date_format,
            filled_by_role_id: filled_by,
        };
        let template_field_id = match placed.get(definition.key.as_str()) {
            None => {
                placed.insert(&definition.key, (i, properties.id));
                let id = properties.id;
                layout.fields.push(properties);
                id
            }
            Some((first, id)) => {
                let earlier =
                    layout.fields.iter().find(|f| f.id == *id).ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("placed field vanished"))
                    })?;
                let differs = if earlier.font_size != properties.font_size {
                    Some("fontSize")
                } else if earlier.required != properties.required {
                    Some("required")
                } else if earlier.date_format != properties.date_format {
                    Some("dateFormat")
                } else if earlier.filled_by_role_id != properties.filled_by_role_id {
                    Some("filledByRoleKey")
                } else {
                    None
                };
                if let Some(property) = differs {
                    return Err(bad(
                        format!("{path}.{property}"),
                        format!(
                            "{} is placed several times and keeps one set of properties: \
                             this differs from layout.fields[{first}]",
                            definition.key
                        ),
                    ));
                }
                *id
            }
        };
        layout.boxes.push(FieldBox {
            id: FieldBoxId::new(),
            template_id: template.id,
            template_field_id,
            page: field.page,
            x: field.x as f32,
            y: field.y as f32,
            width: field.width as f32,
            height: field.height as f32,
            position: position(i)?,
        });
    }
    for (i, slot) in input.seal_slots.iter().enumerate() {
        let path = format!("layout.sealSlots[{i}]");
        let (role, kind) = role_ids.get(slot.role_key.trim()).ok_or_else(|| {
            bad(
                format!("{path}.roleKey"),
                format!("no role with key {:?}", slot.role_key),
            )
        })?;
        if !stamps(*kind, slot.seal_kind) {
            return Err(bad(
                format!("{path}.sealKind"),
                match kind {
                    PartyKind::Enterprise => {
                        "an ENTERPRISE role stamps OFFICIAL, CONTRACT, LEGAL_REPRESENTATIVE, \
                         FINANCE or DATE seals"
                    }
                    PartyKind::Person => {
                        "a PERSON role stamps PERSONAL_NAME, HANDWRITTEN or DATE seals"
                    }
                },
            ));
        }
        let (width, height) = slot_size(slot.seal_kind);
        check_box(
            template,
            &path,
            slot.page,
            (slot.x, slot.y, f64::from(width), f64::from(height)),
        )?;
        layout.slots.push(SealSlot {
            id: SealSlotId::new(),
            template_id: template.id,
            role_id: *role,
            seal_kind: slot.seal_kind,
            page: slot.page,
            x: slot.x as f32,
            y: slot.y as f32,
            position: position(i)?,
        });
    }
    Ok(layout)
}

/// What publishing needs beyond a valid layout.
pub fn check_complete(fields: &[FieldDefinition], layout: &Layout) -> AppResult<()> {
    let missing: Vec<String> = fields
        .iter()
        .filter(|f| f.required_in_template)
        .filter(|f| !layout.fields.iter().any(|placed| placed.field_id == f.id))
        .map(|f| format!("{} ({})", f.key, f.label))
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            "layout.fields".into(),
            format!(
                "the business type requires these fields, which are not placed: {}",
                missing.join(", ")
            ),
        ));
    }
    for kind in [PartyKind::Enterprise, PartyKind::Person] {
        if !layout.roles.iter().any(|r| r.kind == kind) {
            return Err(bad(
                "layout.roles".into(),
                "a template needs at least one ENTERPRISE and one PERSON role",
            ));
        }
    }
    if let Some(role) = layout
        .roles
        .iter()
        .find(|r| !layout.slots.iter().any(|s| s.role_id == r.id))
    {
        return Err(bad(
            "layout.sealSlots".into(),
            format!("role {:?} ({}) has no seal slot", role.key, role.name),
        ));
    }
    Ok(())
}
