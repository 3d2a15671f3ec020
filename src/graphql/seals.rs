//! Seals and files in GraphQL.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use crate::db::enums::{self, SealKind as Kind};
use crate::db::files::StoredFile;
use crate::db::ids::{CaptureId, EnterpriseId, SealId, UserId};
use crate::db::seals::Seal as SealRow;
use crate::domain::seals::handwriting;
use crate::domain::{files, seals};
use crate::graphql::accounts::User;
use crate::graphql::certification::SealKind;
use crate::graphql::context::{ContextExt, parse_id, read_upload};
use crate::graphql::loaders::{FilesLoader, GranteesLoader, load};
use crate::seal_uploads;

/// A stored file; `url` serves it for ten minutes.
pub struct File(pub StoredFile);

#[Object]
impl File {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    async fn size(&self) -> i64 {
        self.0.size
    }

    /// SHA-256 of the content, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }

    /// A signed download URL, valid ten minutes.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(files::signed_url(&ctx.app().services(), self.0.id)?)
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SealStatus {
    /// Usable by its grantees.
    Enabled,
    /// Paused; may be enabled again.
    Disabled,
    /// Void for good (e.g. after a name change).
    Voided,
}

impl From<enums::SealStatus> for SealStatus {
    fn from(status: enums::SealStatus) -> Self {
        match status {
            enums::SealStatus::Enabled => Self::Enabled,
            enums::SealStatus::Disabled => Self::Disabled,
            enums::SealStatus::Voided => Self::Voided,
        }
    }
}

impl From<SealStatus> for enums::SealStatus {
    fn from(status: SealStatus) -> Self {
        match status {
            SealStatus::Enabled => Self::Enabled,
            SealStatus::Disabled => Self::Disabled,
            SealStatus::Voided => Self::Voided,
        }
    }
}

pub fn kind_of(kind: Kind) -> SealKind {
    match kind {
        Kind::Official => SealKind::Official,
        Kind::Contract => SealKind::Contract,
        Kind::LegalRepresentative => SealKind::LegalRepresentative,
        Kind::Finance => SealKind::Finance,
        Kind::Date => SealKind::Date,
        Kind::PersonalName => SealKind::PersonalName,
        Kind::Handwritten => SealKind::Handwritten,
    }
}

pub fn kind_from(kind: SealKind) -> Kind {
    match kind {
        SealKind::Official => Kind::Official,
        SealKind::Contract => Kind::Contract,
        SealKind::LegalRepresentative => Kind::LegalRepresentative,
        SealKind::Finance => Kind::Finance,
        SealKind::Date => Kind::Date,
        SealKind::PersonalName => Kind::PersonalName,
        SealKind::Handwritten => Kind::Handwritten,
    }
}

/// A seal: an enterprise's (公章, 合同专用章, ...) or a person's (名章, 手写签名).
pub struct Seal {
    pub row: SealRow,
    /// Whether the viewer administers the seal (sees its grantees).
    pub managed: bool,
}

#[Object]
impl Seal {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn kind(&self) -> SealKind {
        kind_of(self.row.kind)
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    async fn status(&self) -> SealStatus {
        self.row.status.into()
    }

    /// The seal's image (PNG with a transparent background).
    async fn image(&self, ctx: &Context<'_>) -> Result<File> {
        Ok(File(
            load::<_, FilesLoader>(ctx, self.row.image_file_id).await?,
        ))
    }

    /// Members who may use the seal; shown to the ADMIN only (empty otherwise).
    async fn granted_to(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        if !self.managed {
            return Ok(Vec::new());
        }
        let users = load::<_, GranteesLoader>(ctx, self.row.id).await?;
        let viewer = ctx.request().viewer.map(|v| v.user_id);
        Ok(users
            .iter()
            .map(|u| User::seen_by(u.clone(), viewer))
            .collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// A link for capturing a handwritten signature on a phone.
#[derive(SimpleObject)]
pub struct SignatureCapture {
    id: ID,
    /// Goes into a QR code; the token rides in its fragment.
    url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct SealsMutation;

#[Object]
impl SealsMutation {
    /// A new enterprise seal drawn from the enterprise's data (ADMIN only):
    /// OFFICIAL, CONTRACT, LEGAL_REPRESENTATIVE or FINANCE.
    async fn create_seal(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
        kind: SealKind,
        name: Option<String>,
    ) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let enterprise: EnterpriseId = parse_id("enterpriseId", &enterprise_id)?;
        let mut conn = ctx.conn().await?;
        let row = seals::create_enterprise_seal(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            enterprise,
            kind_from(kind),
            name.as_deref(),
        )
        .await?;
        Ok(Seal { row, managed: true })
    }

    /// ENABLED <-> DISABLED, or VOIDED for good (ADMIN only).
    async fn set_seal_status(
        &self,
        ctx: &Context<'_>,
        seal_id: ID,
        status: SealStatus,
    ) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let id: SealId = parse_id("sealId", &seal_id)?;
        let mut conn = ctx.conn().await?;
        let row = seals::set_status(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            status.into(),
        )
        .await?;
        Ok(Seal { row, managed: true })
    }

    /// Lets members use the seal (ADMIN only).
    async fn grant_seal(&self, ctx: &Context<'_>, seal_id: ID, user_ids: Vec<ID>) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let id: SealId = parse_id("sealId", &seal_id)?;
        let users = user_ids
            .iter()
            .map(|u| parse_id("userIds", u))
            .collect::<Result<Vec<UserId>, _>>()?;
        let mut conn = ctx.conn().await?;
        let row = seals::grant(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            &users,
        )
        .await?;
        Ok(Seal { row, managed: true })
    }

    /// A new image for a seal: an uploaded scan of the enterprise's physical
    /// seal (ADMIN only) or the viewer's own handwritten signature. PNG or
    /// JPEG, at most 2 MB and 3000 px a side; a white background becomes
    /// transparent. The seal's signed record follows the new image.
    async fn replace_seal_image(
        &self,
        ctx: &Context<'_>,
        seal_id: ID,
        image: Upload,
    ) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let id: SealId = parse_id("sealId", &seal_id)?;
        let (_, bytes) = read_upload(ctx, "image", &image, seal_uploads::MAX_BYTES).await?;
        let mut conn = ctx.conn().await?;
        let row = seals::images::replace_image(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            bytes,
        )
        .await?;
        let managed = row.enterprise_id.is_some();
        Ok(Seal { row, managed })
    }

    /// A one-time link (for a QR code) where the viewer's phone captures a
    /// handwritten signature; valid ten minutes. `meUpdated` fires when the
    /// signature arrives.
    async fn start_signature_capture(&self, ctx: &Context<'_>) -> Result<SignatureCapture> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let started = handwriting::start_capture(&mut conn, &ctx.app().services(), &viewer).await?;
        Ok(SignatureCapture {
            id: ID(started.id.to_string()),
            url: started.url,
            expires_at: started.expires_at,
        })
    }

    /// The phone's upload for a capture link: bound to the link's token, no
    /// login. The signature replaces the person's previous one.
    async fn submit_signature_capture(
        &self,
        ctx: &Context<'_>,
        capture_id: ID,
        token: String,
        image: Upload,
    ) -> Result<Seal> {
        let id: CaptureId = parse_id("captureId", &capture_id)?;
        let (_, bytes) = read_upload(ctx, "image", &image, seal_uploads::MAX_BYTES).await?;
        let mut conn = ctx.conn().await?;
        let row = handwriting::submit_capture(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            id,
            &token,
            bytes,
        )
        .await?;
        Ok(Seal {
            row,
            managed: false,
        })
    }

    /// The viewer's handwritten signature, uploaded directly; it replaces
    /// the previous one.
    async fn add_handwritten_signature(&self, ctx: &Context<'_>, image: Upload) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let (_, bytes) = read_upload(ctx, "image", &image, seal_uploads::MAX_BYTES).await?;
        let mut conn = ctx.conn().await?;
        let row = handwriting::add_handwritten(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            bytes,
        )
        .await?;
        Ok(Seal {
            row,
            managed: false,
        })
    }

    async fn revoke_seal_grant(&self, ctx: &Context<'_>, seal_id: ID, user_id: ID) -> Result<Seal> {
        let viewer = ctx.viewer()?;
        let id: SealId = parse_id("sealId", &seal_id)?;
        let user: UserId = parse_id("userId", &user_id)?;
        let mut conn = ctx.conn().await?;
        let row = seals::revoke_grant(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            id,
            user,
        )
        .await?;
        Ok(Seal { row, managed: true })
    }
}
