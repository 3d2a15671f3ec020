//! Enterprises in GraphQL: the enterprise space (`enterprise(id)`), search,
//! join applications, members and their grants, business types, audit log.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, Object, Result, SimpleObject};

use crate::graphql::loaders::{MemberSealsKey, MemberSealsLoader, load};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::db::audit_logs::AuditLog as AuditRow;
use crate::db::enterprises::{
    BusinessTypes, Enterprise as EnterpriseRow, Membership as MembershipRow, Memberships,
};
use crate::db::enums::{self, MemberRole as Role};
use crate::db::ids::{ApplicationId, BusinessTypeId, EnterpriseId, SealId, UserId};
use crate::db::join_applications::JoinApplication as ApplicationRow;
use crate::db::users::User as UserRow;
use crate::domain::membership::{self, Decision};
use crate::error::AppError;
use crate::graphql::accounts::User;
use crate::graphql::certificates::{Certificate, CertificateKind};
use crate::graphql::certification::{CertificateOrder, EnterprisePublic, EnterpriseStatus};
use crate::graphql::context::{ContextExt, parse_id};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MemberRole {
    /// 超级管理员: manages members, seals and grants; exactly one.
    Admin,
    Member,
}

impl From<Role> for MemberRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ApplicationStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

impl From<enums::ApplicationStatus> for ApplicationStatus {
    fn from(status: enums::ApplicationStatus) -> Self {
        match status {
            enums::ApplicationStatus::Pending => Self::Pending,
            enums::ApplicationStatus::Approved => Self::Approved,
            enums::ApplicationStatus::Rejected => Self::Rejected,
            enums::ApplicationStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<ApplicationStatus> for enums::ApplicationStatus {
    fn from(status: ApplicationStatus) -> Self {
        match status {
            ApplicationStatus::Pending => Self::Pending,
            ApplicationStatus::Approved => Self::Approved,
            ApplicationStatus::Rejected => Self::Rejected,
            ApplicationStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A kind of business (劳动合同, 入职, ...): every template, task and archive
/// belongs to one, and members see only the ones they are granted.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct BusinessType {
    id: ID,
    pub name: String,
    #[graphql(skip)]
    pub key: BusinessTypeId,
    #[graphql(skip)]
    pub enterprise: EnterpriseId,
}

impl BusinessType {
    pub fn new(enterprise: EnterpriseId, (id, name): (BusinessTypeId, String)) -> Self {
        Self {
            id: ID(id.to_string()),
            name,
            key: id,
            enterprise,
        }
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// Users by id, loaded in one query.
async fn users_by_id(ctx: &Context<'_>, ids: Vec<UserId>) -> Result<Vec<UserRow>> {
    let mut conn = ctx.conn().await?;
    Ok(UserRow::find_many(&mut conn, &ids)
        .await
        .map_err(AppError::from)?)
}

fn user_view(ctx: &Context<'_>, users: &[UserRow], id: UserId) -> Result<User> {
    let viewer = ctx.request().viewer.map(|v| v.user_id);
    let user = users
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user {id} vanished")))?;
    Ok(User::seen_by(user, viewer))
}

/// The enterprise space as one member sees it.
pub struct Enterprise {
    row: EnterpriseRow,
    role: Role,
}

impl Enterprise {
    fn require_admin(&self) -> Result<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("only the enterprise's administrator may see this").into())
        }
    }
}

#[Object]
impl Enterprise {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    /// 统一社会信用代码
    async fn uscc(&self) -> &str {
        &self.row.uscc
    }

    async fn legal_representative(&self) -> &str {
        &self.row.legal_rep_name
    }

    async fn status(&self) -> EnterpriseStatus {
        self.row.status.into()
    }

    async fn certificate_kind(&self) -> CertificateKind {
        match self.row.certificate_kind {
            enums::CertificateKind::Cloud => CertificateKind::Cloud,
            enums::CertificateKind::Ukey => CertificateKind::Ukey,
        }
    }

    /// The viewer's role in this enterprise.
    async fn viewer_role(&self) -> MemberRole {
        self.role.into()
    }

    /// Members in joining order.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<MembershipConnection> {
        let viewer = ctx.viewer()?;
        let after = after
            .map(|cursor| decode_member_cursor(&cursor))
            .transpose()?;
        let limit = i64::from(first.unwrap_or(20).clamp(1, 100));
        let mut conn = ctx.conn().await?;
        let mut rows = Memberships::page(&mut conn, self.row.id, after, limit + 1)
            .await
            .map_err(AppError::from)?;
        let total = Memberships::count(&mut conn, self.row.id)
            .await
            .map_err(AppError::from)?;
        let all_types = BusinessTypes::of(&mut conn, self.row.id)
            .await
            .map_err(AppError::from)?;
        let grants = Memberships::grants_of_enterprise(&mut conn, self.row.id)
            .await
            .map_err(AppError::from)?;
        drop(conn);
        let has_next_page = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(100));
        let users = users_by_id(ctx, rows.iter().map(|m| m.user_id).collect()).await?;
        let mut edges = Vec::with_capacity(rows.len());
        for row in rows {
            let cursor = member_cursor(&row);
            // Grants are the ADMIN's business: a member sees only their own.
            let grants_visible = self.role == Role::Admin || row.user_id == viewer.user_id;
            let business_types = if !grants_visible {
                Vec::new()
            } else {
                all_types
                    .iter()
                    .filter(|(id, _)| {
                        row.role == Role::Admin || grants.contains(&(row.user_id, *id))
                    })
                    .cloned()
                    .map(|bt| BusinessType::new(self.row.id, bt))
                    .collect()
            };
            edges.push(MembershipEdge {
                cursor,
                node: Membership {
                    user: user_view(ctx, &users, row.user_id)?,
                    enterprise: EnterprisePublic::from(&self.row),
                    role: row.role.into(),
                    business_types,
                    joined_at: row.joined_at,
                    enterprise_id: self.row.id,
                    user_id: row.user_id,
                    grants_visible,
                },
            });
        }
        Ok(MembershipConnection {
            page_info: PageInfo {
                has_next_page,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: total,
        })
    }

    /// Applications to join, newest first (ADMIN only).
    async fn join_applications(
        &self,
        ctx: &Context<'_>,
        status: Option<ApplicationStatus>,
    ) -> Result<Vec<JoinApplication>> {
        self.require_admin()?;
        let mut conn = ctx.conn().await?;
        let rows = ApplicationRow::of_enterprise(&mut conn, self.row.id, status.map(Into::into))
            .await
            .map_err(AppError::from)?;
        drop(conn);
        JoinApplication::load_all(ctx, rows).await
    }

    /// All business types for the ADMIN; the granted ones for a member.
    async fn business_types(&self, ctx: &Context<'_>) -> Result<Vec<BusinessType>> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let list = membership::visible_business_types(&mut conn, &viewer, self.row.id).await?;
        Ok(list
            .into_iter()
            .map(|bt| BusinessType::new(self.row.id, bt))
            .collect())
    }

    /// Templates of the business types the viewer is granted, newest first.
    async fn templates(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::graphql::templates::TemplateStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::graphql::templates::TemplateConnection> {
        crate::graphql::templates::enterprise_templates(ctx, self.row.id, status, first, after)
            .await
    }

    /// Tasks of one box as this enterprise's member sees them, newest
    /// first; `search` matches the title and signers' names.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "box")] task_box: crate::graphql::tasks::TaskBox,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        business_type_id: Option<ID>,
    ) -> Result<crate::graphql::task_views::TaskConnection> {
        crate::graphql::tasks::tasks_in(
            ctx,
            crate::domain::tasks::inbox::Space::Enterprise(self.row.id),
            task_box,
            first,
            after,
            search,
            business_type_id,
        )
        .await
    }

    /// Contracts the enterprise may still initiate.
    async fn quota_balance(&self, ctx: &Context<'_>) -> Result<i32> {
        crate::graphql::tasks::quota_balance(ctx, self.row.id).await
    }

    /// 常用联系人.
    async fn frequent_contacts(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::tasks::Contact>> {
        crate::graphql::tasks::frequent_contacts(ctx, self.row.id).await
    }

    /// All seals for the ADMIN; the granted ones for a member.
    async fn seals(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::seals::Seal>> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let list = crate::domain::seals::visible_seals(&mut conn, &viewer, self.row.id).await?;
        let managed = self.role == Role::Admin;
        Ok(list
            .into_iter()
            .map(|row| crate::graphql::seals::Seal { row, managed })
            .collect())
    }

    /// The enterprise's certificates, newest first.
    async fn certificates(&self, ctx: &Context<'_>) -> Result<Vec<Certificate>> {
        let conn = ctx.conn().await?;
        let list = crate::db::certificates::Certificate::of_enterprise(&conn, self.row.id)
            .await
            .map_err(AppError::from)?;
        Ok(list.into_iter().map(Certificate).collect())
    }

    /// Certification orders of this enterprise (ADMIN only).
    async fn certificate_orders(&self, ctx: &Context<'_>) -> Result<Vec<CertificateOrder>> {
        self.require_admin()?;
        let mut conn = ctx.conn().await?;
        let list =
            crate::db::certificate_orders::CertificateOrder::of_enterprise(&mut conn, self.row.id)
                .await
                .map_err(AppError::from)?;
        drop(conn);
        CertificateOrder::load_all(ctx, list).await
    }

    /// The enterprise's audit log, oldest first (ADMIN only).
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        action: Option<String>,
    ) -> Result<AuditLogConnection> {
        self.require_admin()?;
        let after_id = match after {
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| AppError::bad_input("after", "not a cursor of this list"))?,
            None => 0,
        };
        let limit = i64::from(first.unwrap_or(20).clamp(1, 100));
        let mut conn = ctx.conn().await?;
        let mut rows = AuditRow::page_of_chain(
            &mut conn,
            self.row.id.0,
            action.as_deref(),
            after_id,
            limit + 1,
        )
        .await
        .map_err(AppError::from)?;
        let total = AuditRow::count_of_chain(&mut conn, self.row.id.0, action.as_deref())
            .await
            .map_err(AppError::from)?;
        drop(conn);
        let has_next_page = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(100));
        let actors: Vec<UserId> = rows.iter().filter_map(|r| r.actor_user_id).collect();
        let users = users_by_id(ctx, actors).await?;
        let mut edges = Vec::with_capacity(rows.len());
        for row in rows {
            let actor = row
                .actor_user_id
                .map(|id| user_view(ctx, &users, id))
                .transpose()?;
            edges.push(AuditLogEdge {
                cursor: row.id.to_string(),
                node: AuditLog { row, actor },
            });
        }
        Ok(AuditLogConnection {
            page_info: PageInfo {
                has_next_page,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: total,
        })
    }
}

fn member_cursor(row: &MembershipRow) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        row.joined_at.timestamp_micros(),
        row.user_id
    ))
}

fn decode_member_cursor(cursor: &str) -> Result<(DateTime<Utc>, UserId)> {
    let bad = || AppError::bad_input("after", "not a cursor of this list");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (micros, user) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, user.parse().map_err(|_| bad())?))
}

/// A person's place in an enterprise.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Membership {
    user: User,
    enterprise: EnterprisePublic,
    role: MemberRole,
    /// The business types granted to the member (all for the ADMIN).
    business_types: Vec<BusinessType>,
    joined_at: DateTime<Utc>,
    #[graphql(skip)]
    enterprise_id: EnterpriseId,
    #[graphql(skip)]
    user_id: UserId,
    /// Grants are shown to the ADMIN and to the member themselves.
    #[graphql(skip)]
    grants_visible: bool,
}

#[ComplexObject]
impl Membership {
    /// The seals the member may use (all the enterprise's for the ADMIN).
    async fn seals(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::seals::Seal>> {
        if !self.grants_visible {
            return Ok(Vec::new());
        }
        let key = MemberSealsKey {
            enterprise: self.enterprise_id,
            user: self.user_id,
            admin: self.role == MemberRole::Admin,
        };
        let rows = load::<_, MemberSealsLoader>(ctx, key).await?;
        Ok(rows
            .iter()
            .map(|row| crate::graphql::seals::Seal {
                row: row.clone(),
                managed: false,
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct MembershipEdge {
    node: Membership,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct MembershipConnection {
    edges: Vec<MembershipEdge>,
    page_info: PageInfo,
    total_count: i64,
}

/// An application to join an enterprise (加入企业).
pub struct JoinApplication {
    row: ApplicationRow,
    applicant: User,
    enterprise: EnterprisePublic,
}

impl JoinApplication {
    async fn load_all(ctx: &Context<'_>, rows: Vec<ApplicationRow>) -> Result<Vec<Self>> {
        let users = users_by_id(ctx, rows.iter().map(|r| r.applicant_id).collect()).await?;
        let ids: Vec<EnterpriseId> = rows.iter().map(|r| r.enterprise_id).collect();
        let mut conn = ctx.conn().await?;
        let enterprises = EnterpriseRow::find_many(&mut conn, &ids)
            .await
            .map_err(AppError::from)?;
        drop(conn);
        rows.into_iter()
            .map(|row| {
                let enterprise = enterprises
                    .iter()
                    .find(|e| e.id == row.enterprise_id)
                    .ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("application without enterprise"))
                    })?;
                Ok(Self {
                    applicant: user_view(ctx, &users, row.applicant_id)?,
                    enterprise: enterprise.into(),
                    row,
                })
            })
            .collect()
    }
}

#[Object]
impl JoinApplication {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn applicant(&self) -> &User {
        &self.applicant
    }

    async fn enterprise(&self) -> &EnterprisePublic {
        &self.enterprise
    }

    async fn reason(&self) -> &str {
        &self.row.reason
    }

    async fn status(&self) -> ApplicationStatus {
        self.row.status.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the ADMIN decided or the applicant cancelled; null while pending.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.row.decided_at
    }
}

/// One audited change; `hash` chains it to the row before.
pub struct AuditLog {
    row: AuditRow,
    actor: Option<User>,
}

#[Object]
impl AuditLog {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.row.at
    }

    /// Who did it; null for the platform itself.
    async fn actor(&self) -> Option<&User> {
        self.actor.as_ref()
    }

    async fn action(&self) -> &str {
        &self.row.action
    }

    async fn target_type(&self) -> &str {
        &self.row.target_type
    }

    async fn target_id(&self) -> Option<ID> {
        self.row.target_id.clone().map(ID)
    }

    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.row.details.clone())
    }

    /// SHA-256 (hex) of the previous row's hash and this row.
    async fn hash(&self) -> String {
        hex::encode(&self.row.hash)
    }
}

#[derive(SimpleObject)]
pub struct AuditLogEdge {
    node: AuditLog,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct AuditLogConnection {
    edges: Vec<AuditLogEdge>,
    page_info: PageInfo,
    total_count: i64,
}

#[derive(Default)]
pub struct EnterprisesQuery;

#[Object]
impl EnterprisesQuery {
    /// The enterprise space; NOT_FOUND unless the viewer is a member.
    async fn enterprise(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Enterprise>> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let mut conn = ctx.conn().await?;
        let (row, role) = membership::member_of(&mut conn, &viewer, id).await?;
        Ok(Some(Enterprise { row, role }))
    }

    /// Certified enterprises by name (at least 2 characters, at most 20 results).
    async fn search_enterprises(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Vec<EnterprisePublic>> {
        ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let found = membership::search(&mut conn, &name).await?;
        Ok(found.iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct EnterprisesMutation;

#[Object]
impl EnterprisesMutation {
    /// Asks to join a certified enterprise; one pending application per enterprise.
    async fn apply_to_join_enterprise(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        reason: String,
    ) -> Result<JoinApplication> {
        let viewer = ctx.viewer()?;
        let id = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let row = membership::apply_to_join(&mut conn, &viewer, id, &reason).await?;
        drop(conn);
        let mut list = JoinApplication::load_all(ctx, vec![row]).await?;
        list.pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("application vanished")).into())
    }

    async fn cancel_join_application(&self, ctx: &Context<'_>, id: ID) -> Result<JoinApplication> {
        let viewer = ctx.viewer()?;
        let id: ApplicationId = parse_id("id", &id)?;
        let mut conn = ctx.conn().await?;
        let row =
            membership::cancel_application(&mut conn, &ctx.app().services(), &viewer, id).await?;
        drop(conn);
        let mut list = JoinApplication::load_all(ctx, vec![row]).await?;
        list.pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("application vanished")).into())
    }

    /// The ADMIN approves (with grants) or rejects an application.
    async fn review_join_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        approve: bool,
        business_type_ids: Option<Vec<ID>>,
        seal_ids: Option<Vec<ID>>,
        reason: Option<String>,
    ) -> Result<JoinApplication> {
        let viewer = ctx.viewer()?;
        let id: ApplicationId = parse_id("id", &id)?;
        let business_types = business_type_ids
            .unwrap_or_default()
            .iter()
            .map(|id| parse_id("businessTypeIds", id))
            .collect::<Result<Vec<BusinessTypeId>, _>>()?;
        let seals = seal_ids
            .unwrap_or_default()
            .iter()
            .map(|id| parse_id("sealIds", id))
            .collect::<Result<Vec<SealId>, _>>()?;
        let decision = Decision {
            approve,
            business_type_ids: &business_types,
            seal_ids: &seals,
            reason: reason.as_deref(),
        };
        let mut conn = ctx.conn().await?;
        let row = membership::review_application(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            decision,
        )
        .await?;
        drop(conn);
        let mut list = JoinApplication::load_all(ctx, vec![row]).await?;
        list.pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("application vanished")).into())
    }

    /// Replaces a member's grants (ADMIN only).
    async fn update_member_grants(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        user_id: ID,
        business_type_ids: Vec<ID>,
        seal_ids: Vec<ID>,
    ) -> Result<Membership> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let member: UserId = parse_id("userId", &user_id)?;
        let business_types = business_type_ids
            .iter()
            .map(|id| parse_id("businessTypeIds", id))
            .collect::<Result<Vec<BusinessTypeId>, _>>()?;
        let seals = seal_ids
            .iter()
            .map(|id| parse_id("sealIds", id))
            .collect::<Result<Vec<SealId>, _>>()?;
        let grants = membership::Grants {
            business_type_ids: &business_types,
            seal_ids: &seals,
        };
        let mut conn = ctx.conn().await?;
        let services = ctx.app().services();
        membership::update_grants(
            &mut conn,
            &services,
            &ctx.request().meta,
            &viewer,
            enterprise,
            member,
            grants,
        )
        .await?;
        let row = Memberships::lock(&mut conn, enterprise, member)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound("member"))?;
        let granted = membership::granted_business_types(&mut conn, enterprise, member).await?;
        let enterprise_row = EnterpriseRow::find(&conn, enterprise)
            .await
            .map_err(AppError::from)?;
        drop(conn);
        let users = users_by_id(ctx, vec![member]).await?;
        Ok(Membership {
            user: user_view(ctx, &users, member)?,
            enterprise: EnterprisePublic::from(&enterprise_row),
            role: row.role.into(),
            business_types: granted
                .into_iter()
                .map(|bt| BusinessType::new(enterprise, bt))
                .collect(),
            joined_at: row.joined_at,
            enterprise_id: enterprise,
            user_id: member,
            grants_visible: true,
        })
    }

    /// Removes a member; `transferToUserId` receives the member's work.
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        user_id: ID,
        transfer_to_user_id: Option<ID>,
    ) -> Result<bool> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let member: UserId = parse_id("userId", &user_id)?;
        let to: Option<UserId> = transfer_to_user_id
            .map(|id| parse_id("transferToUserId", &id))
            .transpose()?;
        let mut conn = ctx.conn().await?;
        membership::remove_member(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            enterprise,
            member,
            to,
        )
        .await?;
        Ok(true)
    }

    /// Makes another member the ADMIN; the viewer leaves the enterprise.
    async fn transfer_admin(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        to_user_id: ID,
    ) -> Result<EnterprisePublic> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let to: UserId = parse_id("toUserId", &to_user_id)?;
        let mut conn = ctx.conn().await?;
        let row = membership::transfer_admin(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            enterprise,
            to,
        )
        .await?;
        Ok((&row).into())
    }

    /// A new legal representative (ADMIN only; the phone must be theirs).
    /// The LEGAL_REPRESENTATIVE seal is voided with its grants; create a new one.
    async fn change_legal_representative(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        name: String,
        id_number: String,
        phone: String,
    ) -> Result<Enterprise> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let person = crate::domain::certification::start::LegalRepresentative {
            name: &name,
            id_number: &id_number,
            phone: &phone,
        };
        let mut conn = ctx.conn().await?;
        let row = membership::change_legal_representative(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            enterprise,
            person,
        )
        .await?;
        Ok(Enterprise {
            row,
            role: Role::Admin,
        })
    }

    async fn create_business_type(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        name: String,
    ) -> Result<BusinessType> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let created = membership::create_business_type(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            enterprise,
            &name,
        )
        .await?;
        Ok(BusinessType::new(enterprise, created))
    }
}

/// The viewer's memberships and join applications, for `User`.
pub async fn memberships_of(ctx: &Context<'_>, user: UserId) -> Result<Vec<Membership>> {
    let mut conn = ctx.conn().await?;
    let rows = Memberships::of_user(&mut conn, user)
        .await
        .map_err(AppError::from)?;
    let ids: Vec<EnterpriseId> = rows.iter().map(|m| m.enterprise_id).collect();
    let enterprises = EnterpriseRow::find_many(&mut conn, &ids)
        .await
        .map_err(AppError::from)?;
    let users = UserRow::find_many(&mut conn, &[user])
        .await
        .map_err(AppError::from)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let enterprise = enterprises
            .iter()
            .find(|e| e.id == row.enterprise_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("membership without enterprise")))?;
        let granted =
            membership::granted_business_types(&mut conn, row.enterprise_id, user).await?;
        out.push(Membership {
            user: user_view(ctx, &users, user)?,
            enterprise: enterprise.into(),
            role: row.role.into(),
            business_types: granted
                .into_iter()
                .map(|bt| BusinessType::new(row.enterprise_id, bt))
                .collect(),
            joined_at: row.joined_at,
            enterprise_id: row.enterprise_id,
            user_id: user,
            grants_visible: true,
        });
    }
    Ok(out)
}

pub async fn join_applications_of(ctx: &Context<'_>, user: UserId) -> Result<Vec<JoinApplication>> {
    let mut conn = ctx.conn().await?;
    let rows = ApplicationRow::of_applicant(&mut conn, user)
        .await
        .map_err(AppError::from)?;
    drop(conn);
    JoinApplication::load_all(ctx, rows).await
}
