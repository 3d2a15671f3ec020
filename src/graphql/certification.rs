//! Enterprise certification in GraphQL: the certification-order steps, the
//! operator's review queue, and live order updates.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription, Upload,
};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::db::certificate_orders as orders;
use crate::db::enterprises::Enterprise;
use crate::db::enums;
use crate::db::ids::OrderId;
use crate::domain::certification::materials::{MAX_MATERIAL_BYTES, Material, Materials};
use crate::domain::certification::{authorize, materials, review, start};
use crate::error::AppError;
use crate::events::Event;
use crate::graphql::certificates::Certificate;
use crate::graphql::context::{ContextExt, parse_id};
use crate::graphql::loaders::{CertificatesLoader, load};

/// Where an enterprise stands with certification.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum EnterpriseStatus {
    /// Applied for; not certified yet.
    Certifying,
    Certified,
    /// Its name or legal data changed: nothing is signed until it is certified again.
    RecertificationRequired,
}

impl From<enums::EnterpriseStatus> for EnterpriseStatus {
    fn from(value: enums::EnterpriseStatus) -> Self {
        match value {
            enums::EnterpriseStatus::Certifying => Self::Certifying,
            enums::EnterpriseStatus::Certified => Self::Certified,
            enums::EnterpriseStatus::RecertificationRequired => Self::RecertificationRequired,
        }
    }
}

/// How the legal representative authorises the certification.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CertificationMethod {
    /// A small transfer to the enterprise account; report the amount.
    CorporatePayment,
    /// A code to the legal representative's phone.
    LegalRepPhone,
    /// The legal representative's bank card is checked, then a code to the phone.
    LegalRepBankCard,
}

impl From<CertificationMethod> for enums::CertificationMethod {
    fn from(value: CertificationMethod) -> Self {
        match value {
            CertificationMethod::CorporatePayment => Self::CorporatePayment,
            CertificationMethod::LegalRepPhone => Self::LegalRepPhone,
            CertificationMethod::LegalRepBankCard => Self::LegalRepBankCard,
        }
    }
}

impl From<enums::CertificationMethod> for CertificationMethod {
    fn from(value: enums::CertificationMethod) -> Self {
        match value {
            enums::CertificationMethod::CorporatePayment => Self::CorporatePayment,
            enums::CertificationMethod::LegalRepPhone => Self::LegalRepPhone,
            enums::CertificationMethod::LegalRepBankCard => Self::LegalRepBankCard,
        }
    }
}

/// Why an order exists.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CertificateOrderKind {
    New,
    Renewal,
    Recertification,
    AdminChange,
}

/// The steps of a certification order.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CertificateOrderStatus {
    /// Filled in, shown for preview; `confirmCertificateOrder` next.
    Draft,
    /// `submitAuthorizationCode` next (code or transferred amount).
    AwaitingAuthorization,
    /// `uploadCertificationMaterials` next.
    AwaitingMaterials,
    /// `confirmCertificationApplication` with the handler's code next.
    AwaitingConfirmation,
    /// An operator reviews it.
    Reviewing,
    /// See `rejectReason`; upload corrected materials to return to review.
    Rejected,
    Approved,
    Revoked,
}

/// Seal kinds (enterprise and personal).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SealKind {
    /// 公章
    Official,
    /// 合同专用章
    Contract,
    /// 法定代表人章
    LegalRepresentative,
    /// 财务专用章
    Finance,
    /// 日期章
    Date,
    /// A person's name seal.
    PersonalName,
    /// A person's handwritten signature.
    Handwritten,
}

impl SealKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Official => "OFFICIAL",
            Self::Contract => "CONTRACT",
            Self::LegalRepresentative => "LEGAL_REPRESENTATIVE",
            Self::Finance => "FINANCE",
            Self::Date => "DATE",
            Self::PersonalName => "PERSONAL_NAME",
            Self::Handwritten => "HANDWRITTEN",
        }
    }
}

/// What anyone may know of an enterprise.
#[derive(SimpleObject)]
pub struct EnterprisePublic {
    id: ID,
    name: String,
    status: EnterpriseStatus,
}

impl From<&Enterprise> for EnterprisePublic {
    fn from(e: &Enterprise) -> Self {
        Self {
            id: ID(e.id.to_string()),
            name: e.name.clone(),
            status: e.status.into(),
        }
    }
}

/// One certification attempt.
pub struct CertificateOrder {
    order: orders::CertificateOrder,
    enterprise: EnterprisePublic,
}

impl CertificateOrder {
    /// Orders with their enterprises, loaded in one query.
    pub async fn load_all(
        ctx: &Context<'_>,
        list: Vec<orders::CertificateOrder>,
    ) -> Result<Vec<Self>> {
        let ids: Vec<_> = list.iter().map(|o| o.enterprise_id).collect();
        let mut conn = ctx.conn().await?;
        let enterprises = Enterprise::find_many(&mut conn, &ids)
            .await
            .map_err(AppError::from)?;
        list.into_iter()
            .map(|order| {
                let enterprise = enterprises
                    .iter()
                    .find(|e| e.id == order.enterprise_id)
                    .ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!("order without enterprise"))
                    })?;
                Ok(Self {
                    enterprise: enterprise.into(),
                    order,
                })
            })
            .collect()
    }

    pub async fn load(ctx: &Context<'_>, order: orders::CertificateOrder) -> Result<Self> {
        let mut list = Self::load_all(ctx, vec![order]).await?;
        list.pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("order vanished")).into())
    }
}

#[Object]
impl CertificateOrder {
    async fn id(&self) -> ID {
        ID(self.order.id.to_string())
    }

    async fn enterprise(&self) -> &EnterprisePublic {
        &self.enterprise
    }

    async fn kind(&self) -> CertificateOrderKind {
        match self.order.kind {
            enums::OrderKind::New => CertificateOrderKind::New,
            enums::OrderKind::Renewal => CertificateOrderKind::Renewal,
            enums::OrderKind::Recertification => CertificateOrderKind::Recertification,
            enums::OrderKind::AdminChange => CertificateOrderKind::AdminChange,
        }
    }

    async fn method(&self) -> CertificationMethod {
        self.order.method.into()
    }

    async fn status(&self) -> CertificateOrderStatus {
        match self.order.status {
            enums::OrderStatus::Draft => CertificateOrderStatus::Draft,
            enums::OrderStatus::AwaitingAuthorization => {
                CertificateOrderStatus::AwaitingAuthorization
            }
            enums::OrderStatus::AwaitingMaterials => CertificateOrderStatus::AwaitingMaterials,
            enums::OrderStatus::AwaitingConfirmation => {
                CertificateOrderStatus::AwaitingConfirmation
            }
            enums::OrderStatus::Reviewing => CertificateOrderStatus::Reviewing,
            enums::OrderStatus::Rejected => CertificateOrderStatus::Rejected,
            enums::OrderStatus::Approved => CertificateOrderStatus::Approved,
            enums::OrderStatus::Revoked => CertificateOrderStatus::Revoked,
        }
    }

    /// RECERTIFICATION: the name the enterprise takes once approved.
    async fn new_name(&self) -> Option<&str> {
        self.order.new_name.as_deref()
    }

    /// The reviewer's reason; null unless REJECTED.
    async fn reject_reason(&self) -> Option<&str> {
        self.order.reject_reason.as_deref()
    }

    /// The enterprise's certificate; null until APPROVED.
    async fn certificate(&self, ctx: &Context<'_>) -> Result<Option<Certificate>> {
        let Some(id) = self.order.certificate_id else {
            return Ok(None);
        };
        let certificate = load::<_, CertificatesLoader>(ctx, id).await?;
        Ok(Some(Certificate(certificate)))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.order.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.order.updated_at
    }
}

/// The enterprise being certified.
#[derive(InputObject)]
pub struct EnterpriseInfoInput {
    name: String,
    /// 统一社会信用代码, checked with GB 32100.
    uscc: String,
    address: Option<String>,
    legal_rep_name: String,
    legal_rep_id_number: String,
    legal_rep_phone: String,
    /// Required for LEGAL_REP_BANK_CARD.
    legal_rep_bank_card: Option<String>,
}

/// The person handling the application (经办人).
#[derive(InputObject)]
pub struct HandlerInput {
    name: String,
    id_number: String,
    phone: String,
    email: String,
}

#[derive(InputObject)]
pub struct StartCertificationInput {
    enterprise: EnterpriseInfoInput,
    method: CertificationMethod,
    handler: HandlerInput,
    /// Seals to create on approval (OFFICIAL, CONTRACT, LEGAL_REPRESENTATIVE, FINANCE).
    seal_kinds: Vec<SealKind>,
    /// UKEY kind: the PKCS#10 request from the key; CLOUD kind: omitted.
    csr_pem: Option<String>,
    accept_agreements: bool,
}

/// Reads an upload of at most 10 MB (one byte more tells it is larger).
async fn read_upload(ctx: &Context<'_>, field: &str, upload: &Upload) -> Result<Material> {
    let (name, bytes) =
        crate::graphql::context::read_upload(ctx, field, upload, MAX_MATERIAL_BYTES).await?;
    Ok(Material { name, bytes })
}

#[derive(Default)]
pub struct CertificationQuery;

#[Object]
impl CertificationQuery {
    /// Orders waiting for review, oldest first (OPERATOR only).
    async fn pending_certificate_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<ID>,
    ) -> Result<Vec<CertificateOrder>> {
        let viewer = ctx.viewer()?;
        let after: Option<OrderId> = after.map(|a| parse_id("after", &a)).transpose()?;
        let mut conn = ctx.conn().await?;
        let list =
            review::pending(&mut conn, &viewer, after, i64::from(first.unwrap_or(20))).await?;
        drop(conn);
        CertificateOrder::load_all(ctx, list).await
    }
}

#[derive(Default)]
pub struct CertificationMutation;

#[Object]
impl CertificationMutation {
    /// Starts certifying an enterprise (the viewer must be real-name verified);
    /// returns the DRAFT order for preview.
    async fn start_enterprise_certification(
        &self,
        ctx: &Context<'_>,
        input: StartCertificationInput,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let e = &input.enterprise;
        let domain_input = start::StartInput {
            enterprise: start::EnterpriseInfo {
                name: &e.name,
                uscc: &e.uscc,
                address: e.address.as_deref(),
                legal_rep_name: &e.legal_rep_name,
                legal_rep_id_number: &e.legal_rep_id_number,
                legal_rep_phone: &e.legal_rep_phone,
                legal_rep_bank_card: e.legal_rep_bank_card.as_deref(),
            },
            method: input.method.into(),
            handler: start::Handler {
                name: &input.handler.name,
                id_number: &input.handler.id_number,
                phone: &input.handler.phone,
                email: &input.handler.email,
            },
            seal_kinds: input
                .seal_kinds
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            csr_pem: input.csr_pem.as_deref(),
            accept_agreements: input.accept_agreements,
        };
        let mut conn = ctx.conn().await?;
        let order = start::start(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            domain_input,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// DRAFT -> AWAITING_AUTHORIZATION: a code goes to the legal
    /// representative, or a small amount is transferred to the enterprise.
    async fn confirm_certificate_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let order = start::confirm(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// The legal representative's code, or the transferred amount ("0.37").
    async fn submit_authorization_code(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        code: String,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let order = authorize::submit_authorization_code(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &code,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// PDF, JPEG or PNG files of at most 10 MB each.
    async fn upload_certification_materials(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        authorization_letter: Upload,
        business_license: Upload,
        handler_id_front: Upload,
        handler_id_back: Upload,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let uploads = Materials {
            authorization_letter: read_upload(ctx, "authorizationLetter", &authorization_letter)
                .await?,
            business_license: read_upload(ctx, "businessLicense", &business_license).await?,
            handler_id_front: read_upload(ctx, "handlerIdFront", &handler_id_front).await?,
            handler_id_back: read_upload(ctx, "handlerIdBack", &handler_id_back).await?,
        };
        let mut conn = ctx.conn().await?;
        let order = materials::upload(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            uploads,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// The handler's code: the order goes to review.
    async fn confirm_certification_application(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        sms_code: String,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let order = materials::confirm_application(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &sms_code,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// Withdraws the application in any state before approval. A new
    /// enterprise's application is then cleared: the order, the
    /// never-certified enterprise and its materials are deleted (the audit
    /// log keeps the history).
    async fn revoke_certificate_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let revoked = review::revoke(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
        )
        .await?;
        // The enterprise may be gone with the order: show it as it was.
        Ok(CertificateOrder {
            enterprise: (&revoked.enterprise).into(),
            order: revoked.order,
        })
    }

    /// Asks the CA for news on an order under review (a job does the same
    /// every few minutes); the order as it then stands.
    async fn refresh_certificate_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let order = crate::domain::certification::refresh::refresh(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            id,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }

    /// Approve (certify, issue the certificate, make the applicant ADMIN) or
    /// reject with a reason (OPERATOR only).
    async fn review_certificate_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        approve: bool,
        reason: Option<String>,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("orderId", &order_id)?;
        let mut conn = ctx.conn().await?;
        let order = review::review(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            approve,
            reason.as_deref(),
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }
}

#[derive(Default)]
pub struct CertificationSubscription;

#[Subscription]
impl CertificationSubscription {
    /// Every status change of the viewer's orders, or of one of them.
    async fn certificate_order_updated(
        &self,
        ctx: &Context<'_>,
        order_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<CertificateOrder>>> {
        let viewer = ctx.viewer()?;
        let only: Option<OrderId> = order_id.map(|id| parse_id("orderId", &id)).transpose()?;
        if let Some(id) = only {
            let mut conn = ctx.conn().await?;
            crate::domain::certification::own_order(&mut conn, &viewer, id).await?;
        }
        let app = ctx.app().clone();
        let receiver = app.events.subscribe();
        Ok(futures_util::stream::unfold(
            receiver,
            move |mut receiver| {
                let app = app.clone();
                async move {
                    loop {
                        let (order, status) = match receiver.recv().await {
                            Ok(Event::CertificateOrderUpdated {
                                order,
                                applicant,
                                status,
                            }) if applicant == viewer.user_id
                                && only.is_none_or(|id| id == order) =>
                            {
                                (order, status)
                            }
                            Ok(_) | Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => return None,
                        };
                        let loaded = async {
                            let mut conn = app.pool.get().await.map_err(AppError::from)?;
                            let mut order =
                                crate::domain::certification::own_order(&mut conn, &viewer, order)
                                    .await?;
                            // Each step as it happened, even if the next followed at once.
                            order.status = status;
                            let enterprise = Enterprise::find(&conn, order.enterprise_id)
                                .await
                                .map_err(AppError::from)?;
                            Ok::<_, AppError>(CertificateOrder {
                                enterprise: (&enterprise).into(),
                                order,
                            })
                        }
                        .await
                        .map_err(Into::into);
                        return Some((loaded, receiver));
                    }
                }
            },
        ))
    }
}
