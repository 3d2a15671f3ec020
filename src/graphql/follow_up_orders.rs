//! Orders after certification in GraphQL: renewing the enterprise
//! certificate, recertifying after a name change, taking over the
//! administrator role.

use async_graphql::{Context, ID, Object, Result};

use crate::domain::certification::follow_up;
use crate::graphql::certification::CertificateOrder;
use crate::graphql::context::{ContextExt, parse_id};

#[derive(Default)]
pub struct FollowUpOrdersMutation;

#[Object]
impl FollowUpOrdersMutation {
    /// A RENEWAL order for the enterprise's current certificate (ADMIN only);
    /// it goes through the same steps as a certification.
    async fn renew_certificate(
        &self,
        ctx: &Context<'_>,
        certificate_id: ID,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("certificateId", &certificate_id)?;
        let mut conn = ctx.conn().await?;
        let order = follow_up::renew(
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

    /// A member asks to become the ADMIN: the legal representative
    /// authorizes, an operator decides; on approval the old ADMIN leaves.
    async fn apply_for_admin(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let order = follow_up::apply_for_admin(
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

    /// A new enterprise name (ADMIN only): every seal is voided and its
    /// grants removed, and nothing is signed for the enterprise until the
    /// RECERTIFICATION order this opens is approved. Also restarts a
    /// revoked recertification.
    async fn change_enterprise_name(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        new_name: String,
    ) -> Result<CertificateOrder> {
        let viewer = ctx.viewer()?;
        let id = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let order = follow_up::change_name(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &new_name,
        )
        .await?;
        drop(conn);
        CertificateOrder::load(ctx, order).await
    }
}
