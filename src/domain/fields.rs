//! Fields that templates place (字段): the public catalogue per business type,
//! seeded by a migration, and the custom fields an enterprise adds.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::BusinessTypes;
use crate::db::enums::FieldType;
use crate::db::field_definitions::{FieldDefinition, NewCustomField};
use crate::db::ids::{BusinessTypeId, EnterpriseId, FieldId};
use crate::domain::membership::admin_of;
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};

pub struct NewField<'a> {
    pub enterprise: EnterpriseId,
    /// None: the field serves every business type of the enterprise.
    pub business_type: Option<BusinessTypeId>,
    pub key: &'a str,
    pub label: &'a str,
    pub field_type: FieldType,
}

/// `snake_case`, 2 to 40 characters, starting with a letter: keys travel
/// into sheet columns and API payloads.
fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    (2..=40).contains(&key.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A custom field (ADMIN only). Its key may not shadow a public field's.
pub async fn create_custom_field(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    field: NewField<'_>,
) -> AppResult<FieldDefinition> {
    let key = field.key.trim();
    if !valid_key(key) {
        return Err(AppError::bad_input(
            "key",
            "a key has 2 to 40 lowercase letters, digits or underscores and starts with a letter",
        ));
    }
    let label = field.label.trim();
    if label.is_empty() || label.chars().count() > 30 || label.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "label",
            "a label has 1 to 30 characters",
        ));
    }
    conn.transaction(async |conn| {
        admin_of(conn, viewer, field.enterprise).await?;
        if let Some(business_type) = field.business_type
            && !BusinessTypes::of(conn, field.enterprise)
                .await?
                .iter()
                .any(|(id, _)| *id == business_type)
        {
            return Err(AppError::NotFound("business type"));
        }
        if FieldDefinition::public_key_exists(conn, key).await? {
            return Err(AppError::Conflict(
                "a public field has this key; use it or choose another key".into(),
            ));
        }
        let created = FieldDefinition::insert_custom(
            conn,
            &NewCustomField {
                id: FieldId::new(),
                enterprise_id: field.enterprise,
                business_type_id: field.business_type,
                key,
                label,
                field_type: field.field_type,
                created_at: svc.clock.now(),
            },
        )
        .await?;
        let entry = audit::Entry {
            enterprise: Some(field.enterprise.0),
            actor: Some(viewer.user_id),
            action: "field.create",
            target_type: "field_definition",
            target_id: Some(created.id.to_string()),
            details: serde_json::json!({
                "key": key,
                "label": label,
                "type": field.field_type.as_str(),
                "businessType": field.business_type.map(|b| b.to_string()),
            }),
            client_ip: Some(&meta.client_ip),
        };
        audit::record(conn, svc, entry).await?;
        Ok(created)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_are_snake_case() {
        assert!(valid_key("bonus_2024"));
        assert!(!valid_key("Bonus"));
        assert!(!valid_key("2bonus"));
        assert!(!valid_key("b"));
        assert!(!valid_key("bo nus"));
        assert!(!valid_key("奖金"));
        assert!(!valid_key(&"b".repeat(41)));
    }
}
