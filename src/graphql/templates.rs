//! Contract templates in GraphQL: `template(id)`, `Enterprise.templates`,
//! authoring (create, layout, publish, copy, status) and previews.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use crate::db::enums::{self, TemplateStatus as Status};
use crate::db::ids::{EnterpriseId, TemplateId, TemplateRoleId};
use crate::db::templates::{Layout, Role, Template as TemplateRow, TemplateField};
use crate::domain::templates::{self, NewTemplate, layout};
use crate::error::AppError;
use crate::graphql::certification::SealKind;
use crate::graphql::context::{ContextExt, decode_time_cursor, parse_id, read_upload, time_cursor};
use crate::graphql::enterprises::{BusinessType, PageInfo};
use crate::graphql::fields::FieldDefinition;
use crate::graphql::loaders::{
    BusinessTypesLoader, FieldsLoader, FilesLoader, TemplateLayoutLoader, load,
};
use crate::graphql::seals::{File, kind_from, kind_of};
use crate::pdf::input::Limits;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TemplateStatus {
    /// Being designed; cannot start tasks.
    Draft,
    /// Immutable; starts tasks.
    Published,
    /// Published but paused; starts no tasks until enabled again.
    Disabled,
}

impl From<Status> for TemplateStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Draft => Self::Draft,
            Status::Published => Self::Published,
            Status::Disabled => Self::Disabled,
        }
    }
}

impl From<TemplateStatus> for Status {
    fn from(status: TemplateStatus) -> Self {
        match status {
            TemplateStatus::Draft => Self::Draft,
            TemplateStatus::Published => Self::Published,
            TemplateStatus::Disabled => Self::Disabled,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PartyKind {
    /// 企业签署方
    Enterprise,
    /// 个人签署方
    Person,
}

impl From<enums::PartyKind> for PartyKind {
    fn from(kind: enums::PartyKind) -> Self {
        match kind {
            enums::PartyKind::Enterprise => Self::Enterprise,
            enums::PartyKind::Person => Self::Person,
        }
    }
}

impl From<PartyKind> for enums::PartyKind {
    fn from(kind: PartyKind) -> Self {
        match kind {
            PartyKind::Enterprise => Self::Enterprise,
            PartyKind::Person => Self::Person,
        }
    }
}

#[derive(SimpleObject)]
pub struct PageSize {
    /// 1-based.
    page: i32,
    /// Points.
    width: f64,
    height: f64,
}

impl PageSize {
    pub fn of(template: &TemplateRow) -> Vec<PageSize> {
        template
            .pages()
            .zip(1..)
            .map(|((width, height), page)| PageSize {
                page,
                width: width.into(),
                height: height.into(),
            })
            .collect()
    }
}

/// A party of the contract (甲方, 乙方, ...).
#[derive(SimpleObject, Clone)]
pub struct SignerRole {
    id: ID,
    /// The key the layout gave it; tasks name roles by it.
    key: String,
    name: String,
    kind: PartyKind,
}

impl SignerRole {
    /// The role a task's signer holds (the role rows of templates may have
    /// changed since: tasks keep key and name).
    pub fn of_signer(id: String, key: &str, name: &str, kind: enums::PartyKind) -> Self {
        Self {
            id: ID(id),
            key: key.to_owned(),
            name: name.to_owned(),
            kind: kind.into(),
        }
    }
}

impl From<&Role> for SignerRole {
    fn from(role: &Role) -> Self {
        Self {
            id: ID(role.id.to_string()),
            key: role.key.clone(),
            name: role.name.clone(),
            kind: role.kind.into(),
        }
    }
}

fn role_of(layout: &Layout, id: TemplateRoleId) -> Result<SignerRole> {
    layout
        .roles
        .iter()
        .find(|r| r.id == id)
        .map(SignerRole::from)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("role {id} vanished")).into())
}

/// One box of a field on a page; a field placed in several boxes has the
/// same properties in each.
pub struct FieldPlacement {
    layout: Arc<Layout>,
    index: usize,
    enterprise: EnterpriseId,
}

impl FieldPlacement {
    fn properties(&self) -> Result<(&crate::db::templates::FieldBox, &TemplateField)> {
        let field_box = &self.layout.boxes[self.index];
        let properties = self
            .layout
            .fields
            .iter()
            .find(|f| f.id == field_box.template_field_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a box without its field")))?;
        Ok((field_box, properties))
    }
}

#[Object]
impl FieldPlacement {
    async fn id(&self) -> ID {
        ID(self.layout.boxes[self.index].id.to_string())
    }

    async fn field(&self, ctx: &Context<'_>) -> Result<FieldDefinition> {
        let (_, properties) = self.properties()?;
        let rows = load::<_, FieldsLoader>(ctx, self.enterprise).await?;
        rows.iter()
            .find(|f| f.id == properties.field_id)
            .cloned()
            .map(FieldDefinition)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a placed field vanished")).into())
    }

    /// 1-based.
    async fn page(&self) -> i32 {
        self.layout.boxes[self.index].page
    }

    /// Points from the page's left edge.
    async fn x(&self) -> f64 {
        self.layout.boxes[self.index].x.into()
    }

    /// Points from the page's top edge.
    async fn y(&self) -> f64 {
        self.layout.boxes[self.index].y.into()
    }

    async fn width(&self) -> f64 {
        self.layout.boxes[self.index].width.into()
    }

    async fn height(&self) -> f64 {
        self.layout.boxes[self.index].height.into()
    }

    async fn font_size(&self) -> Result<f64> {
        Ok(self.properties()?.1.font_size.into())
    }

    async fn required(&self) -> Result<bool> {
        Ok(self.properties()?.1.required)
    }

    /// For DATE fields: how the date is written.
    async fn date_format(&self) -> Result<Option<String>> {
        Ok(self.properties()?.1.date_format.clone())
    }

    /// The PERSON role that fills the value in when signing (乙方补全信息).
    async fn filled_by(&self) -> Result<Option<SignerRole>> {
        let (_, properties) = self.properties()?;
        properties
            .filled_by_role_id
            .map(|id| role_of(&self.layout, id))
            .transpose()
    }
}

/// Where a role stamps one of its seals; `x`, `y` are the top-left corner
/// of a box of `width` by `height` points that the seal kind fixes.
pub struct SealSlot {
    layout: Arc<Layout>,
    index: usize,
}

impl SealSlot {
    pub fn all(layout: &Arc<Layout>) -> Vec<SealSlot> {
        (0..layout.slots.len())
            .map(|index| SealSlot {
                layout: layout.clone(),
                index,
            })
            .collect()
    }
}

#[Object]
impl SealSlot {
    async fn id(&self) -> ID {
        ID(self.layout.slots[self.index].id.to_string())
    }

    async fn role(&self) -> Result<SignerRole> {
        role_of(&self.layout, self.layout.slots[self.index].role_id)
    }

    async fn seal_kind(&self) -> SealKind {
        kind_of(self.layout.slots[self.index].seal_kind)
    }

    async fn page(&self) -> i32 {
        self.layout.slots[self.index].page
    }

    async fn x(&self) -> f64 {
        self.layout.slots[self.index].x.into()
    }

    async fn y(&self) -> f64 {
        self.layout.slots[self.index].y.into()
    }

    async fn width(&self) -> f64 {
        templates::slot_size(self.layout.slots[self.index].seal_kind)
            .0
            .into()
    }

    async fn height(&self) -> f64 {
        templates::slot_size(self.layout.slots[self.index].seal_kind)
            .1
            .into()
    }
}

/// A contract template (合同模板) of one business type.
pub struct Template(pub TemplateRow);

impl Template {
    async fn layout(&self, ctx: &Context<'_>) -> Result<Arc<Layout>> {
        Ok(load::<_, TemplateLayoutLoader>(ctx, self.0.id).await?)
    }
}

#[Object]
impl Template {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn business_type(&self, ctx: &Context<'_>) -> Result<BusinessType> {
        let types = load::<_, BusinessTypesLoader>(ctx, self.0.enterprise_id).await?;
        types
            .iter()
            .find(|(id, _)| *id == self.0.business_type_id)
            .cloned()
            .map(|bt| BusinessType::new(self.0.enterprise_id, bt))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("business type vanished")).into())
    }

    async fn status(&self) -> TemplateStatus {
        self.0.status.into()
    }

    /// The uploaded PDF.
    async fn file(&self, ctx: &Context<'_>) -> Result<File> {
        Ok(File(load::<_, FilesLoader>(ctx, self.0.file_id).await?))
    }

    async fn pages(&self) -> Vec<PageSize> {
        PageSize::of(&self.0)
    }

    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<SignerRole>> {
        Ok(self
            .layout(ctx)
            .await?
            .roles
            .iter()
            .map(Into::into)
            .collect())
    }

    async fn fields(&self, ctx: &Context<'_>) -> Result<Vec<FieldPlacement>> {
        let layout = self.layout(ctx).await?;
        Ok((0..layout.boxes.len())
            .map(|index| FieldPlacement {
                layout: layout.clone(),
                index,
                enterprise: self.0.enterprise_id,
            })
            .collect())
    }

    async fn seal_slots(&self, ctx: &Context<'_>) -> Result<Vec<SealSlot>> {
        Ok(SealSlot::all(&self.layout(ctx).await?))
    }

    /// The template this one was copied from, if the viewer sees it.
    async fn copied_from_id(&self) -> Option<ID> {
        self.0.copied_from_id.map(|id| ID(id.to_string()))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
}

#[derive(SimpleObject)]
pub struct TemplateEdge {
    node: Template,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct TemplateConnection {
    edges: Vec<TemplateEdge>,
    page_info: PageInfo,
    total_count: i64,
}

/// `Enterprise.templates`: the viewer's visible templates, newest first.
pub async fn enterprise_templates(
    ctx: &Context<'_>,
    enterprise: EnterpriseId,
    status: Option<TemplateStatus>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<TemplateConnection> {
    let viewer = ctx.viewer()?;
    let after = after.map(|c| decode_time_cursor(&c)).transpose()?;
    let limit = i64::from(first.unwrap_or(20).clamp(1, 100));
    let status = status.map(Status::from);
    let mut conn = ctx.conn().await?;
    let mut rows = TemplateRow::page(
        &mut conn,
        enterprise,
        status,
        templates::visible_to(&viewer),
        after,
        limit + 1,
    )
    .await
    .map_err(AppError::from)?;
    let total = TemplateRow::count(
        &mut conn,
        enterprise,
        status,
        templates::visible_to(&viewer),
    )
    .await
    .map_err(AppError::from)?;
    let has_next_page = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(100));
    let edges: Vec<TemplateEdge> = rows
        .into_iter()
        .map(|row| TemplateEdge {
            cursor: time_cursor(row.created_at, row.id),
            node: Template(row),
        })
        .collect();
    Ok(TemplateConnection {
        page_info: PageInfo {
            has_next_page,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total_count: total,
    })
}

#[derive(InputObject)]
pub struct SignerRoleInput {
    /// Chosen by the client; fields and slots refer to the role by it.
    key: String,
    name: String,
    kind: PartyKind,
}

#[derive(InputObject)]
pub struct FieldPlacementInput {
    field_key: String,
    page: i32,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    #[graphql(default = 12.0)]
    font_size: f64,
    #[graphql(default = true)]
    required: bool,
    date_format: Option<String>,
    filled_by_role_key: Option<String>,
}

#[derive(InputObject)]
pub struct SealSlotInput {
    role_key: String,
    seal_kind: SealKind,
    page: i32,
    x: f64,
    y: f64,
}

#[derive(InputObject)]
pub struct TemplateLayoutInput {
    roles: Vec<SignerRoleInput>,
    fields: Vec<FieldPlacementInput>,
    seal_slots: Vec<SealSlotInput>,
}

impl From<TemplateLayoutInput> for layout::LayoutInput {
    fn from(input: TemplateLayoutInput) -> Self {
        Self {
            roles: input
                .roles
                .into_iter()
                .map(|r| layout::RoleInput {
                    key: r.key,
                    name: r.name,
                    kind: r.kind.into(),
                })
                .collect(),
            fields: input
                .fields
                .into_iter()
                .map(|f| layout::FieldInput {
                    field_key: f.field_key,
                    page: f.page,
                    x: f.x,
                    y: f.y,
                    width: f.width,
                    height: f.height,
                    font_size: f.font_size,
                    required: f.required,
                    date_format: f.date_format,
                    filled_by_role_key: f.filled_by_role_key,
                })
                .collect(),
            seal_slots: input
                .seal_slots
                .into_iter()
                .map(|s| layout::SlotInput {
                    role_key: s.role_key,
                    seal_kind: kind_from(s.seal_kind),
                    page: s.page,
                    x: s.x,
                    y: s.y,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct TemplatesQuery;

#[Object]
impl TemplatesQuery {
    /// A template of a business type the viewer is granted (NOT_FOUND otherwise).
    async fn template(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Template>> {
        let viewer = ctx.viewer()?;
        let id: TemplateId = parse_id("id", &id)?;
        let mut conn = ctx.conn().await?;
        Ok(Some(Template(
            templates::find(&mut conn, &viewer, id).await?,
        )))
    }
}

#[derive(Default)]
pub struct TemplatesMutation;

#[Object]
impl TemplatesMutation {
    /// A DRAFT template from a PDF (at most 20 MB and 200 pages, not
    /// encrypted, without JavaScript, actions or attachments).
    async fn create_template(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        name: String,
        business_type_id: ID,
        file: Upload,
    ) -> Result<Template> {
        let viewer = ctx.viewer()?;
        let enterprise = parse_id("enterpriseId", &enterprise_id)?;
        let business_type = parse_id("businessTypeId", &business_type_id)?;
        let (file_name, pdf) = read_upload(ctx, "file", &file, Limits::default().max_bytes).await?;
        let mut conn = ctx.conn().await?;
        let created = templates::create(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            NewTemplate {
                enterprise,
                business_type,
                name: &name,
                file_name: &file_name,
                pdf,
            },
        )
        .await?;
        Ok(Template(created))
    }

    /// Replaces the roles, field placements and seal slots of a DRAFT.
    async fn update_template_layout(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        layout: TemplateLayoutInput,
    ) -> Result<Template> {
        let viewer = ctx.viewer()?;
        let id = parse_id("templateId", &template_id)?;
        let input = layout.into();
        let mut conn = ctx.conn().await?;
        let updated = templates::update_layout(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &input,
        )
        .await?;
        Ok(Template(updated))
    }

    /// Publishes a complete DRAFT; it never changes again.
    async fn publish_template(&self, ctx: &Context<'_>, template_id: ID) -> Result<Template> {
        let viewer = ctx.viewer()?;
        let id = parse_id("templateId", &template_id)?;
        let mut conn = ctx.conn().await?;
        let published = templates::publish(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
        )
        .await?;
        Ok(Template(published))
    }

    /// A new DRAFT with the file and layout of any template.
    async fn copy_template(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        name: String,
    ) -> Result<Template> {
        let viewer = ctx.viewer()?;
        let id = parse_id("templateId", &template_id)?;
        let mut conn = ctx.conn().await?;
        let copy = templates::copy(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &name,
        )
        .await?;
        Ok(Template(copy))
    }

    /// PUBLISHED <-> DISABLED.
    async fn set_template_status(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        status: TemplateStatus,
    ) -> Result<Template> {
        let viewer = ctx.viewer()?;
        let id = parse_id("templateId", &template_id)?;
        let mut conn = ctx.conn().await?;
        let changed = templates::set_status(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            status.into(),
        )
        .await?;
        Ok(Template(changed))
    }

    /// The template filled with `values` (field key -> value; dates as
    /// YYYY-MM-DD) and samples for the other fields, boxes and seal slots
    /// outlined.
    async fn preview_template(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        values: Option<Json<serde_json::Value>>,
    ) -> Result<File> {
        let viewer = ctx.viewer()?;
        let id = parse_id("templateId", &template_id)?;
        let mut conn = ctx.conn().await?;
        let file = templates::preview::preview(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            id,
            values.as_ref().map(|v| &v.0),
        )
        .await?;
        Ok(File(file))
    }
}
