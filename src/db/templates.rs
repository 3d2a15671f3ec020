//! The `templates` table and its layout tables (`template_roles`,
//! `template_fields`, `template_field_boxes`, `template_seal_slots`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::{PartyKind, SealKind, TemplateStatus};
use crate::db::ids::{
    BusinessTypeId, EnterpriseId, FieldBoxId, FieldId, FileId, SealSlotId, TemplateFieldId,
    TemplateId, TemplateRoleId, UserId,
};
use crate::db::schema::{
    template_field_boxes, template_fields, template_roles, template_seal_slots, templates,
};

/// The ids of the templates a query may return; built by the templates
/// domain (its visibility rule), applied by every query here.
pub type TemplateFilter = templates::BoxedQuery<'static, Pg, diesel::sql_types::Uuid>;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = templates, check_for_backend(diesel::pg::Pg))]
pub struct Template {
    pub id: TemplateId,
    pub enterprise_id: EnterpriseId,
    pub business_type_id: BusinessTypeId,
    pub name: String,
    pub status: TemplateStatus,
    pub file_id: FileId,
    pub page_widths: Vec<f32>,
    pub page_heights: Vec<f32>,
    pub copied_from_id: Option<TemplateId>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = template_roles, check_for_backend(diesel::pg::Pg))]
pub struct Role {
    pub id: TemplateRoleId,
    pub template_id: TemplateId,
    pub key: String,
    pub name: String,
    pub kind: PartyKind,
    pub position: i32,
}

/// The properties a field has wherever the template places it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = template_fields, check_for_backend(diesel::pg::Pg))]
pub struct TemplateField {
    pub id: TemplateFieldId,
    pub template_id: TemplateId,
    pub field_id: FieldId,
    pub font_size: f32,
    pub required: bool,
    pub date_format: Option<String>,
    pub filled_by_role_id: Option<TemplateRoleId>,
}

/// One box a field is drawn in; points from the page's top-left corner.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = template_field_boxes, check_for_backend(diesel::pg::Pg))]
pub struct FieldBox {
    pub id: FieldBoxId,
    pub template_id: TemplateId,
    pub template_field_id: TemplateFieldId,
    pub page: i32,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub position: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = template_seal_slots, check_for_backend(diesel::pg::Pg))]
pub struct SealSlot {
    pub id: SealSlotId,
    pub template_id: TemplateId,
    pub role_id: TemplateRoleId,
    pub seal_kind: SealKind,
    pub page: i32,
    pub x: f32,
    pub y: f32,
    pub position: i32,
}

/// Roles, fields, boxes and slots of one template, each in input order.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub roles: Vec<Role>,
    pub fields: Vec<TemplateField>,
    pub boxes: Vec<FieldBox>,
    pub slots: Vec<SealSlot>,
}

impl Template {
    pub async fn insert(conn: &mut AsyncPgConnection, new: &Template) -> QueryResult<Template> {
        diesel::insert_into(templates::table)
            .values(new)
            .returning(Template::as_returning())
            .get_result(conn)
            .await
    }

    /// The template, locked until the transaction ends, if `filter` lets
    /// it through.
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: TemplateId,
        filter: TemplateFilter,
    ) -> QueryResult<Option<Template>> {
        templates::table
            .filter(templates::id.eq(id))
            .filter(templates::id.eq_any(filter))
            .select(Template::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        id: TemplateId,
        filter: TemplateFilter,
    ) -> QueryResult<Option<Template>> {
        templates::table
            .filter(templates::id.eq(id))
            .filter(templates::id.eq_any(filter))
            .select(Template::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// For background work that acts for no viewer (filling documents).
    pub async fn find_by_id(
        conn: &mut AsyncPgConnection,
        id: TemplateId,
    ) -> QueryResult<Option<Template>> {
        templates::table
            .find(id)
            .select(Template::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[TemplateId],
    ) -> QueryResult<Vec<Template>> {
        templates::table
            .filter(templates::id.eq_any(ids))
            .select(Template::as_select())
            .load(conn)
            .await
    }

    /// The newest first, after the `(created_at, id)` cursor.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        status: Option<TemplateStatus>,
        filter: TemplateFilter,
        after: Option<(DateTime<Utc>, TemplateId)>,
        limit: i64,
    ) -> QueryResult<Vec<Template>> {
        let mut query = templates::table
            .filter(templates::enterprise_id.eq(enterprise))
            .filter(templates::id.eq_any(filter))
            .select(Template::as_select())
            .order((templates::created_at.desc(), templates::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(templates::status.eq(status));
        }
        if let Some((at, id)) = after {
            query = query.filter(
                templates::created_at
                    .lt(at)
                    .or(templates::created_at.eq(at).and(templates::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    pub async fn count(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
        status: Option<TemplateStatus>,
        filter: TemplateFilter,
    ) -> QueryResult<i64> {
        let mut query = templates::table
            .filter(templates::enterprise_id.eq(enterprise))
            .filter(templates::id.eq_any(filter))
            .count()
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(templates::status.eq(status));
        }
        query.get_result(conn).await
    }

    pub async fn set_status(
        conn: &mut AsyncPgConnection,
        id: TemplateId,
        status: TemplateStatus,
        published_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> QueryResult<Template> {
        diesel::update(templates::table.find(id))
            .set((
                templates::status.eq(status),
                templates::published_at.eq(published_at),
                templates::updated_at.eq(now),
            ))
            .returning(Template::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn touch(
        conn: &mut AsyncPgConnection,
        id: TemplateId,
        now: DateTime<Utc>,
    ) -> QueryResult<Template> {
        diesel::update(templates::table.find(id))
            .set(templates::updated_at.eq(now))
            .returning(Template::as_returning())
            .get_result(conn)
            .await
    }

    /// Page sizes (width, height), page 1 first.
    pub fn pages(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.page_widths
            .iter()
            .copied()
            .zip(self.page_heights.iter().copied())
    }
}

impl Layout {
    /// The role keys of each template: which documents a signer signs.
    pub async fn role_keys(
        conn: &mut AsyncPgConnection,
        ids: &[TemplateId],
    ) -> QueryResult<Vec<(TemplateId, String)>> {
        template_roles::table
            .filter(template_roles::template_id.eq_any(ids))
            .select((template_roles::template_id, template_roles::key))
            .load(conn)
            .await
    }

    /// The layout of one template (empty when it has none yet).
    pub async fn of_template(conn: &mut AsyncPgConnection, id: TemplateId) -> QueryResult<Layout> {
        Ok(Self::of(conn, &[id]).await?.remove(&id).unwrap_or_default())
    }

    /// The layouts of `ids` (an empty one for a template without layout).
    pub async fn of(
        conn: &mut AsyncPgConnection,
        ids: &[TemplateId],
    ) -> QueryResult<HashMap<TemplateId, Layout>> {
        let roles: Vec<Role> = template_roles::table
            .filter(template_roles::template_id.eq_any(ids))
            .order(template_roles::position.asc())
            .select(Role::as_select())
            .load(conn)
            .await?;
        let fields: Vec<TemplateField> = template_fields::table
            .filter(template_fields::template_id.eq_any(ids))
            .select(TemplateField::as_select())
            .load(conn)
            .await?;
        let boxes: Vec<FieldBox> = template_field_boxes::table
            .filter(template_field_boxes::template_id.eq_any(ids))
            .order(template_field_boxes::position.asc())
            .select(FieldBox::as_select())
            .load(conn)
            .await?;
        let slots: Vec<SealSlot> = template_seal_slots::table
            .filter(template_seal_slots::template_id.eq_any(ids))
            .order(template_seal_slots::position.asc())
            .select(SealSlot::as_select())
            .load(conn)
            .await?;
        let mut layouts: HashMap<TemplateId, Layout> =
            ids.iter().map(|id| (*id, Layout::default())).collect();
        for role in roles {
            layouts
                .entry(role.template_id)
                .or_default()
                .roles
                .push(role);
        }
        for field in fields {
            layouts
                .entry(field.template_id)
                .or_default()
                .fields
                .push(field);
        }
        for field_box in boxes {
            layouts
                .entry(field_box.template_id)
                .or_default()
                .boxes
                .push(field_box);
        }
        for slot in slots {
            layouts
                .entry(slot.template_id)
                .or_default()
                .slots
                .push(slot);
        }
        Ok(layouts)
    }

    /// Replaces the layout of `template` with `self` (whose rows name it).
    pub async fn replace(
        &self,
        conn: &mut AsyncPgConnection,
        template: TemplateId,
    ) -> QueryResult<()> {
        diesel::delete(
            template_seal_slots::table.filter(template_seal_slots::template_id.eq(template)),
        )
        .execute(conn)
        .await?;
        diesel::delete(
            template_field_boxes::table.filter(template_field_boxes::template_id.eq(template)),
        )
        .execute(conn)
        .await?;
        diesel::delete(template_fields::table.filter(template_fields::template_id.eq(template)))
            .execute(conn)
            .await?;
        diesel::delete(template_roles::table.filter(template_roles::template_id.eq(template)))
            .execute(conn)
            .await?;
        self.insert(conn).await
    }

    /// Writes the rows of a template that has none yet.
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        if !self.roles.is_empty() {
            diesel::insert_into(template_roles::table)
                .values(&self.roles)
                .execute(conn)
                .await?;
        }
        if !self.fields.is_empty() {
            diesel::insert_into(template_fields::table)
                .values(&self.fields)
                .execute(conn)
                .await?;
        }
        if !self.boxes.is_empty() {
            diesel::insert_into(template_field_boxes::table)
                .values(&self.boxes)
                .execute(conn)
                .await?;
        }
        if !self.slots.is_empty() {
            diesel::insert_into(template_seal_slots::table)
                .values(&self.slots)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// The same layout for `template` under fresh ids (a copy).
    pub fn copied_to(&self, template: TemplateId) -> Layout {
        let roles: HashMap<TemplateRoleId, TemplateRoleId> = self
            .roles
            .iter()
            .map(|r| (r.id, TemplateRoleId::new()))
            .collect();
        let fields: HashMap<TemplateFieldId, TemplateFieldId> = self
            .fields
            .iter()
            .map(|f| (f.id, TemplateFieldId::new()))
            .collect();
        let role = |id: &TemplateRoleId| roles.get(id).copied().unwrap_or(*id);
        Layout {
            roles: self
                .roles
                .iter()
                .map(|r| Role {
                    id: role(&r.id),
                    template_id: template,
                    ..r.clone()
                })
                .collect(),
            fields: self
                .fields
                .iter()
                .map(|f| TemplateField {
                    id: fields.get(&f.id).copied().unwrap_or(f.id),
                    template_id: template,
                    filled_by_role_id: f.filled_by_role_id.as_ref().map(role),
                    ..f.clone()
                })
                .collect(),
            boxes: self
                .boxes
                .iter()
                .map(|b| FieldBox {
                    id: FieldBoxId::new(),
                    template_id: template,
                    template_field_id: fields
                        .get(&b.template_field_id)
                        .copied()
                        .unwrap_or(b.template_field_id),
                    ..b.clone()
                })
                .collect(),
            slots: self
                .slots
                .iter()
                .map(|s| SealSlot {
                    id: SealSlotId::new(),
                    template_id: template,
                    role_id: role(&s.role_id),
                    ..s.clone()
                })
                .collect(),
        }
    }
}
