//! `previewTemplate`: the template's PDF with its fields filled (given
//! values, or samples for the rest) and every field box and seal slot
//! outlined, so a UI shows what a contract will look like.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;

use crate::db::enums::FieldType;
use crate::db::field_definitions::FieldDefinition;
use crate::db::files::StoredFile;
use crate::db::ids::{FieldId, TemplateId};
use crate::db::templates::{Layout, TemplateField};
use crate::domain::seals::default_name;
use crate::domain::templates::{find, slot_size};
use crate::domain::{Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::pdf::PdfError;
use crate::pdf::fill::{DATE_FORMATS, FieldText, OwnedFieldText, fill_with_overlay, format_date};
use crate::pdf::input::{self, Limits};
use crate::pdf::outline::{Rect, operators};

const FIELD_COLOR: [f32; 3] = [0.1, 0.4, 0.9];
const SLOT_COLOR: [f32; 3] = [0.85, 0.1, 0.1];
const SLOT_LABEL_SIZE: f32 = 9.0;

/// A value as the contract shows it: dates (`YYYY-MM-DD`) in the field's
/// format, everything else as given. BAD_USER_INPUT names `path`.
pub fn display_value(
    path: &str,
    definition: &FieldDefinition,
    properties: &TemplateField,
    value: &str,
) -> AppResult<String> {
    let value = value.trim();
    if definition.field_type != FieldType::Date {
        return Ok(value.to_owned());
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| AppError::bad_input(path, "a date is written YYYY-MM-DD"))?;
    let format = properties.date_format.as_deref().unwrap_or(DATE_FORMATS[0]);
    format_date(date, format)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("stored date format {format:?}")))
}

/// What a preview shows where no value is given.
fn sample(definition: &FieldDefinition, properties: &TemplateField, today: NaiveDate) -> String {
    match definition.field_type {
        FieldType::Text => definition.label.clone(),
        FieldType::Number => "12".into(),
        FieldType::Date => format_date(
            today,
            properties.date_format.as_deref().unwrap_or(DATE_FORMATS[0]),
        )
        .unwrap_or_default(),
        // The example of GB 11643 itself, not a person's.
        FieldType::IdNumber => "11010519491231002X".into(),
        FieldType::Phone => "13800138000".into(),
        FieldType::Money => "8000.00".into(),
    }
}

/// JSON values by field key: strings, numbers or null.
fn given_values(
    values: Option<&serde_json::Value>,
    placed_keys: &HashSet<&str>,
) -> AppResult<HashMap<String, String>> {
    let Some(values) = values.filter(|v| !v.is_null()) else {
        return Ok(HashMap::new());
    };
    let object = values
        .as_object()
        .ok_or_else(|| AppError::bad_input("values", "an object of field key to value"))?;
    let mut given = HashMap::new();
    for (key, value) in object {
        let path = format!("values.{key}");
        if !placed_keys.contains(key.as_str()) {
            return Err(AppError::bad_input(
                path,
                "this template places no field with this key",
            ));
        }
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(AppError::bad_input(path, "a value is a string or a number")),
        };
        if text.chars().count() > 2000 {
            return Err(AppError::bad_input(
                path,
                "a value has at most 2000 characters",
            ));
        }
        given.insert(key.clone(), text);
    }
    Ok(given)
}

struct Text {
    field: OwnedFieldText,
    /// A sample or a label: dropped rather than refused when it cannot be drawn.
    optional: bool,
}

/// The template filled and outlined, stored as a new file.
pub async fn preview(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    id: TemplateId,
    values: Option<&serde_json::Value>,
) -> AppResult<StoredFile> {
    let template = find(conn, viewer, id).await?;
    let layout = Layout::of_template(conn, template.id).await?;
    let definitions: HashMap<FieldId, FieldDefinition> =
        FieldDefinition::catalogue_and_custom(conn, &[template.enterprise_id])
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
    let definition_of = |properties: &TemplateField| {
        definitions
            .get(&properties.field_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a placed field vanished")))
    };
    let mut placed_keys = HashSet::new();
    for properties in &layout.fields {
        placed_keys.insert(definition_of(properties)?.key.as_str());
    }
    let given = given_values(values, &placed_keys)?;
    let today = svc.clock.now().date_naive();
    let pages: Vec<(f32, f32)> = template.pages().collect();
    let page_height = |page: i32| -> AppResult<(usize, f32)> {
        let index = usize::try_from(page - 1).map_err(AppError::internal)?;
        let (_, height) = pages
            .get(index)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a box on page {page}")))?;
        Ok((index, *height))
    };

    let mut texts = Vec::new();
    let mut overlay: BTreeMap<usize, Vec<Rect>> = BTreeMap::new();
    for field_box in &layout.boxes {
        let properties = layout
            .fields
            .iter()
            .find(|f| f.id == field_box.template_field_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a box without its field")))?;
        let definition = definition_of(properties)?;
        let (page, height) = page_height(field_box.page)?;
        let y = height - field_box.y - field_box.height;
        overlay.entry(page).or_default().push(Rect {
            x: field_box.x,
            y,
            width: field_box.width,
            height: field_box.height,
            color: FIELD_COLOR,
        });
        let (text, optional) = match given.get(&definition.key) {
            Some(value) => (
                display_value(
                    &format!("values.{}", definition.key),
                    definition,
                    properties,
                    value,
                )?,
                false,
            ),
            None => (sample(definition, properties, today), true),
        };
        texts.push(Text {
            field: OwnedFieldText {
                key: definition.key.clone(),
                page,
                x: field_box.x,
                y,
                width: field_box.width,
                height: field_box.height,
                font_size: properties.font_size,
                text,
            },
            optional,
        });
    }
    for (i, slot) in layout.slots.iter().enumerate() {
        let role = layout
            .roles
            .iter()
            .find(|r| r.id == slot.role_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a slot without its role")))?;
        let (width, height) = slot_size(slot.seal_kind);
        let (page, page_height) = page_height(slot.page)?;
        let y = page_height - slot.y - height;
        overlay.entry(page).or_default().push(Rect {
            x: slot.x,
            y,
            width,
            height,
            color: SLOT_COLOR,
        });
        texts.push(Text {
            field: OwnedFieldText {
                key: format!("slot {i}"),
                page,
                x: slot.x + 2.0,
                y,
                width: width - 4.0,
                height: height - 2.0,
                font_size: SLOT_LABEL_SIZE,
                text: format!("{}\n{}", role.name, default_name(slot.seal_kind)),
            },
            optional: true,
        });
    }

    let file = StoredFile::find(conn, template.file_id).await?;
    let store = svc.storage.clone();
    let overlay: BTreeMap<usize, Vec<u8>> = overlay
        .into_iter()
        .map(|(page, rects)| (page, operators(&rects)))
        .collect();
    let pdf = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let bytes = store.get(&file.sha256).map_err(AppError::internal)?;
        draw(&bytes, texts, &overlay)
    })
    .await??;
    let store = svc.storage.clone();
    let size = i64::try_from(pdf.len()).map_err(AppError::internal)?;
    let sha256 = tokio::task::spawn_blocking(move || store.put(&pdf))
        .await?
        .map_err(AppError::internal)?;
    Ok(StoredFile::insert(
        conn,
        &sha256,
        &format!("{}（预览）.pdf", template.name),
        "application/pdf",
        size,
        Some(viewer.user_id),
    )
    .await?)
}

/// Fills `texts` over the template; an optional text that cannot be drawn
/// is left out, a given one is refused naming its field.
fn draw(
    pdf: &[u8],
    mut texts: Vec<Text>,
    overlay: &BTreeMap<usize, Vec<u8>>,
) -> AppResult<Vec<u8>> {
    let document = input::load(pdf, &Limits::default()).map_err(AppError::internal)?;
    loop {
        let fields: Vec<FieldText<'_>> = texts.iter().map(|t| t.field.borrowed()).collect();
        let error = match fill_with_overlay(pdf, &document, &fields, overlay) {
            Ok(bytes) => return Ok(bytes),
            Err(error) => error,
        };
        let field = match &error {
            PdfError::TextDoesNotFit { field } | PdfError::Undrawable { field, .. } => {
                field.clone()
            }
            _ => return Err(AppError::internal(error)),
        };
        drop(fields);
        if !texts.iter().any(|t| t.field.key == field && t.optional) {
            return Err(AppError::bad_input(format!("values.{field}"), error));
        }
        texts.retain(|t| !(t.field.key == field && t.optional));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_must_name_placed_fields() {
        let placed: HashSet<&str> = ["employee_name", "salary"].into();
        let given = given_values(
            Some(&serde_json::json!({ "employee_name": "张三", "salary": 8000, "x": null })),
            &placed,
        );
        assert!(given.is_err(), "x is not placed");
        let given = given_values(
            Some(&serde_json::json!({ "employee_name": "张三", "salary": 8000 })),
            &placed,
        )
        .unwrap();
        assert_eq!(given["salary"], "8000");
        assert!(given_values(Some(&serde_json::json!([1])), &placed).is_err());
        assert!(given_values(Some(&serde_json::json!({ "salary": [1] })), &placed).is_err());
    }
}
