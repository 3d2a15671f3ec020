//! Real-name verification in GraphQL.

use async_graphql::{Context, Enum, ID, Object, Result};

use crate::db::enums;
use crate::db::identity_checks::IdentityCheck;
use crate::domain::real_name;
use crate::graphql::accounts::{IdType, RealNameStatus};
use crate::graphql::context::{ContextExt, parse_id};

/// How a person proves who they are.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RealNameMethod {
    /// Face recognition at the provider's page (`faceUrl`); the result
    /// arrives on the provider's callback.
    Face,
    /// Name, ID number, bank card and its phone checked by the bank; then an SMS code.
    BankCard4,
    /// Name, ID number and phone checked by the carrier; then an SMS code.
    Carrier3,
}

impl From<RealNameMethod> for enums::RealNameMethod {
    fn from(value: RealNameMethod) -> Self {
        match value {
            RealNameMethod::Face => Self::Face,
            RealNameMethod::BankCard4 => Self::BankCard4,
            RealNameMethod::Carrier3 => Self::Carrier3,
        }
    }
}

impl From<enums::RealNameMethod> for RealNameMethod {
    fn from(value: enums::RealNameMethod) -> Self {
        match value {
            enums::RealNameMethod::Face => Self::Face,
            enums::RealNameMethod::BankCard4 => Self::BankCard4,
            enums::RealNameMethod::Carrier3 => Self::Carrier3,
        }
    }
}

/// One real-name verification attempt.
pub struct RealNameVerification {
    check: IdentityCheck,
    face_url: Option<String>,
}

#[Object]
impl RealNameVerification {
    async fn id(&self) -> ID {
        ID(self.check.id.to_string())
    }

    async fn method(&self) -> RealNameMethod {
        self.check.method.into()
    }

    /// PENDING, VERIFIED or FAILED (never UNVERIFIED).
    async fn status(&self) -> RealNameStatus {
        match self.check.status {
            enums::CheckStatus::Pending => RealNameStatus::Pending,
            enums::CheckStatus::Verified => RealNameStatus::Verified,
            enums::CheckStatus::Failed => RealNameStatus::Failed,
        }
    }

    /// For FACE right after starting: the page the person opens on a phone.
    async fn face_url(&self) -> Option<&str> {
        self.face_url.as_deref()
    }

    /// Why the check failed, in Chinese as the provider said it; null otherwise.
    async fn failure_reason(&self) -> Option<&str> {
        self.check.failure_reason.as_deref()
    }
}

impl From<real_name::Verification> for RealNameVerification {
    fn from(v: real_name::Verification) -> Self {
        Self {
            check: v.check,
            face_url: v.face_url,
        }
    }
}

#[derive(Default)]
pub struct RealNameMutation;

#[Object]
impl RealNameMutation {
    /// Starts a verification. BANK_CARD_4 and CARRIER_3 send a code to the
    /// viewer's phone for `confirmRealNameVerification`; FACE returns `faceUrl`.
    /// A mismatch comes back as status FAILED with `failureReason`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the operation's arguments as the API sketch names them"
    )]
    async fn start_real_name_verification(
        &self,
        ctx: &Context<'_>,
        id_type: IdType,
        name: String,
        id_number: String,
        email: Option<String>,
        method: RealNameMethod,
        bank_card_number: Option<String>,
        accept_agreements: bool,
    ) -> Result<RealNameVerification> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let input = real_name::StartInput {
            id_type: id_type.into(),
            name: &name,
            id_number: &id_number,
            email: email.as_deref(),
            method: method.into(),
            bank_card_number: bank_card_number.as_deref(),
            accept_agreements,
        };
        let started = real_name::start(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            input,
        )
        .await?;
        Ok(started.into())
    }

    /// Completes a BANK_CARD_4 or CARRIER_3 verification with its SMS code.
    async fn confirm_real_name_verification(
        &self,
        ctx: &Context<'_>,
        id: ID,
        sms_code: String,
    ) -> Result<RealNameVerification> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let confirmed = real_name::confirm(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            parse_id("id", &id)?,
            &sms_code,
        )
        .await?;
        Ok(confirmed.into())
    }
}
