//! The `field_definitions` table: the public field catalogue of the default
//! business types and the enterprises' custom fields.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::FieldType;
use crate::db::ids::{BusinessTypeId, EnterpriseId, FieldId};
use crate::db::schema::field_definitions;

/// The catalogue of business types that have none of their own.
pub const ANY_CATALOGUE: &str = "*";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = field_definitions, check_for_backend(diesel::pg::Pg))]
pub struct FieldDefinition {
    pub id: FieldId,
    pub enterprise_id: Option<EnterpriseId>,
    pub business_type_id: Option<BusinessTypeId>,
    pub catalogue: Option<String>,
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    pub required_in_template: bool,
    pub position: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = field_definitions)]
pub struct NewCustomField<'a> {
    pub id: FieldId,
    pub enterprise_id: EnterpriseId,
    pub business_type_id: Option<BusinessTypeId>,
    pub key: &'a str,
    pub label: &'a str,
    pub field_type: FieldType,
    pub created_at: DateTime<Utc>,
}

impl FieldDefinition {
    pub async fn insert_custom(
        conn: &mut AsyncPgConnection,
        new: &NewCustomField<'_>,
    ) -> QueryResult<FieldDefinition> {
        diesel::insert_into(field_definitions::table)
            .values(new)
            .returning(FieldDefinition::as_returning())
            .get_result(conn)
            .await
    }

    /// The public catalogue and the custom fields of `enterprises`.
    pub async fn catalogue_and_custom(
        conn: &mut AsyncPgConnection,
        enterprises: &[EnterpriseId],
    ) -> QueryResult<Vec<FieldDefinition>> {
        field_definitions::table
            .filter(
                field_definitions::enterprise_id
                    .is_null()
                    .or(field_definitions::enterprise_id.eq_any(enterprises)),
            )
            .order((
                field_definitions::position.asc(),
                field_definitions::created_at.asc(),
                field_definitions::key.asc(),
            ))
            .select(FieldDefinition::as_select())
            .load(conn)
            .await
    }

    /// Whether some public catalogue has a field with this key.
    pub async fn public_key_exists(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            field_definitions::table
                .filter(field_definitions::enterprise_id.is_null())
                .filter(field_definitions::key.eq(key)),
        ))
        .get_result(conn)
        .await
    }
}

/// The fields of a business type, from rows of `catalogue_and_custom`: its
/// catalogue (or the general one), then the enterprise's custom fields for
/// it or for every type.
pub fn fields_of_type(
    rows: &[FieldDefinition],
    enterprise: EnterpriseId,
    business_type: BusinessTypeId,
    business_type_name: &str,
) -> Vec<FieldDefinition> {
    let has_own = rows
        .iter()
        .any(|f| f.catalogue.as_deref() == Some(business_type_name));
    let catalogue = if has_own {
        business_type_name
    } else {
        ANY_CATALOGUE
    };
    let public = rows
        .iter()
        .filter(|f| f.enterprise_id.is_none() && f.catalogue.as_deref() == Some(catalogue));
    let custom = rows.iter().filter(|f| {
        f.enterprise_id == Some(enterprise)
            && f.business_type_id.is_none_or(|bt| bt == business_type)
    });
    public.chain(custom).cloned().collect()
}
