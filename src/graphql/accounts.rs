//! Accounts in GraphQL: `me`, registration, logins, sessions, profile changes,
//! UKey binding, and the viewer's own account updates.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use tokio::sync::broadcast::error::RecvError;

use crate::app::App;
use crate::db::{enums, users};
use crate::domain::accounts::{
    IssuedSession, captcha, login, profile, register, sessions, sms_codes, ukey,
};
use crate::domain::{Viewer, certificates};
use crate::error::AppError;
use crate::events::Event;
use crate::graphql::certificates::Certificate;
use crate::graphql::context::{ContextExt, parse_id};

/// What a verification code is for; a code only works for its purpose.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SmsPurpose {
    /// Registering a new account with this phone.
    Register,
    /// Logging in with an SMS code.
    Login,
    /// Setting a new password after forgetting it.
    ResetPassword,
    /// Moving the viewer's account to this (new) phone.
    ChangePhone,
}

impl From<SmsPurpose> for enums::SmsPurpose {
    fn from(value: SmsPurpose) -> Self {
        match value {
            SmsPurpose::Register => Self::Register,
            SmsPurpose::Login => Self::Login,
            SmsPurpose::ResetPassword => Self::ResetPassword,
            SmsPurpose::ChangePhone => Self::ChangePhone,
        }
    }
}

/// Kind of identity document.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IdType {
    /// Mainland resident ID card (居民身份证), checked with GB 11643.
    ResidentIdCard,
    Passport,
    /// Mainland travel permit for Hong Kong and Macao residents.
    HkMacaoPermit,
    /// Mainland travel permit for Taiwan residents.
    TaiwanPermit,
    /// Foreigner's permanent residence ID card.
    ForeignPermanentResident,
}

impl From<IdType> for enums::IdType {
    fn from(value: IdType) -> Self {
        match value {
            IdType::ResidentIdCard => Self::ResidentIdCard,
            IdType::Passport => Self::Passport,
            IdType::HkMacaoPermit => Self::HkMacaoPermit,
            IdType::TaiwanPermit => Self::TaiwanPermit,
            IdType::ForeignPermanentResident => Self::ForeignPermanentResident,
        }
    }
}

impl From<enums::IdType> for IdType {
    fn from(value: enums::IdType) -> Self {
        match value {
            enums::IdType::ResidentIdCard => Self::ResidentIdCard,
            enums::IdType::Passport => Self::Passport,
            enums::IdType::HkMacaoPermit => Self::HkMacaoPermit,
            enums::IdType::TaiwanPermit => Self::TaiwanPermit,
            enums::IdType::ForeignPermanentResident => Self::ForeignPermanentResident,
        }
    }
}

/// Where a person stands with real-name verification.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RealNameStatus {
    /// No verification started.
    Unverified,
    /// A verification waits for its code or the provider's result.
    Pending,
    /// Name and ID number are verified and can no longer change.
    Verified,
    /// The last verification failed; a new one may be started.
    Failed,
}

impl From<enums::RealNameStatus> for RealNameStatus {
    fn from(value: enums::RealNameStatus) -> Self {
        match value {
            enums::RealNameStatus::Unverified => Self::Unverified,
            enums::RealNameStatus::Pending => Self::Pending,
            enums::RealNameStatus::Verified => Self::Verified,
            enums::RealNameStatus::Failed => Self::Failed,
        }
    }
}

/// A person with an account. Others see the phone masked and no identity details.
pub struct User {
    user: users::User,
    is_viewer: bool,
}

impl User {
    pub fn of_viewer(user: users::User) -> Self {
        Self {
            user,
            is_viewer: true,
        }
    }

    /// The user as `viewer` may see them (details only for themselves).
    pub fn seen_by(user: users::User, viewer: Option<crate::db::ids::UserId>) -> Self {
        let is_viewer = viewer == Some(user.id);
        Self { user, is_viewer }
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.user.id.to_string())
    }

    /// The login phone; masked (138****0000) unless the viewer is this user.
    async fn phone(&self) -> String {
        if self.is_viewer {
            self.user.phone.clone()
        } else {
            crate::notify::texts::mask_phone(&self.user.phone)
        }
    }

    /// The verified name; null before real-name verification.
    async fn name(&self) -> Option<&str> {
        self.user.name.as_deref()
    }

    /// The contact email; null when none is set or the viewer is someone else.
    async fn email(&self) -> Option<&str> {
        self.user.email.as_deref().filter(|_| self.is_viewer)
    }

    /// The viewer's own tasks (personal space): addressed to them as a
    /// signer, or CC'd (box CC). Only on `me`.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "box")] task_box: crate::graphql::tasks::TaskBox,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        business_type_id: Option<ID>,
    ) -> Result<crate::graphql::task_views::TaskConnection> {
        if !self.is_viewer {
            return Err(AppError::Forbidden("only your own tasks are listed").into());
        }
        crate::graphql::tasks::tasks_in(
            ctx,
            crate::domain::tasks::inbox::Space::Personal,
            task_box,
            first,
            after,
            search,
            business_type_id,
        )
        .await
    }

    async fn real_name_status(&self) -> RealNameStatus {
        self.user.real_name_status.into()
    }

    /// The verified document type; null before verification or for others.
    async fn id_type(&self) -> Option<IdType> {
        self.user.id_type.filter(|_| self.is_viewer).map(Into::into)
    }

    /// The verified ID number, masked (4101**********1234); null for others.
    async fn id_number_masked(&self) -> Option<&str> {
        self.user
            .id_number_masked
            .as_deref()
            .filter(|_| self.is_viewer)
    }

    /// Whether a personal UKey certificate is bound for certificate login.
    async fn ukey_bound(&self) -> bool {
        self.user.ukey_fingerprint.is_some()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }

    /// The person's own seals (name seal, handwritten signatures); empty for others.
    async fn seals(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::seals::Seal>> {
        if !self.is_viewer {
            return Ok(Vec::new());
        }
        let conn = ctx.conn().await?;
        let rows = crate::db::seals::Seal::of_person(&conn, self.user.id)
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(rows
            .into_iter()
            .map(|row| crate::graphql::seals::Seal {
                row,
                managed: false,
            })
            .collect())
    }

    /// The enterprises the person belongs to; empty for others.
    async fn memberships(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::enterprises::Membership>> {
        if !self.is_viewer {
            return Ok(Vec::new());
        }
        crate::graphql::enterprises::memberships_of(ctx, self.user.id).await
    }

    /// The person's applications to join enterprises (我加入的企业); empty for others.
    async fn join_applications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::enterprises::JoinApplication>> {
        if !self.is_viewer {
            return Ok(Vec::new());
        }
        crate::graphql::enterprises::join_applications_of(ctx, self.user.id).await
    }

    /// Enterprises the viewer applied to certify (我认证的企业); empty for others.
    async fn certification_orders(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::certification::CertificateOrder>> {
        if !self.is_viewer {
            return Ok(Vec::new());
        }
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let list = crate::domain::certification::orders_of(&mut conn, &viewer).await?;
        drop(conn);
        crate::graphql::certification::CertificateOrder::load_all(ctx, list).await
    }

    /// The person's own certificates (a cloud certificate is issued when
    /// real-name verification passes); empty for others.
    async fn certificates(&self, ctx: &Context<'_>) -> Result<Vec<Certificate>> {
        if !self.is_viewer {
            return Ok(Vec::new());
        }
        let mut conn = ctx.conn().await?;
        let list = certificates::of_user(&mut conn, self.user.id).await?;
        Ok(list.into_iter().map(Certificate).collect())
    }
}

/// A login: the bearer token to send as `Authorization: Bearer <token>`.
#[derive(SimpleObject)]
pub struct Session {
    /// Shown once; the server keeps only its hash.
    token: String,
    /// When the session ends at the latest (it also ends after idling).
    expires_at: DateTime<Utc>,
    user: User,
}

impl From<IssuedSession> for Session {
    fn from(issued: IssuedSession) -> Self {
        Self {
            token: issued.token,
            expires_at: issued.expires_at,
            user: User::of_viewer(issued.user),
        }
    }
}

/// Where a code went and when another may be asked for.
#[derive(SimpleObject)]
pub struct SendCodeResult {
    /// The masked phone number the code was sent to.
    sent_to: String,
    retry_after_seconds: i64,
}

impl From<crate::domain::accounts::sms_codes::CodeSent> for SendCodeResult {
    fn from(sent: crate::domain::accounts::sms_codes::CodeSent) -> Self {
        Self {
            sent_to: sent.sent_to,
            retry_after_seconds: sent.retry_after_seconds,
        }
    }
}

/// An image captcha for password login; single use, valid two minutes.
#[derive(SimpleObject)]
pub struct Captcha {
    id: ID,
    /// The image as a `data:image/png;base64,...` URL.
    image_png: String,
    expires_at: DateTime<Utc>,
}

/// A nonce for a UKey to sign; single use, valid two minutes.
#[derive(SimpleObject)]
pub struct CertificateChallenge {
    id: ID,
    /// 32 random bytes, base64. Sign these raw bytes with SHA-256.
    nonce: String,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The logged-in user; null without a valid session.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(viewer) = ctx.request().viewer else {
            return Ok(None);
        };
        let mut conn = ctx.conn().await?;
        Ok(Some(User::of_viewer(
            profile::me(&mut conn, &viewer).await?,
        )))
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Sends a 6-digit code valid 5 minutes. The answer is the same whether or
    /// not the phone has an account. At most one per minute and 10 a day per phone.
    async fn send_sms_code(
        &self,
        ctx: &Context<'_>,
        phone: String,
        purpose: SmsPurpose,
    ) -> Result<SendCodeResult> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let sent = sms_codes::send_sms_code(
            &mut conn,
            &app.services(),
            &ctx.request().meta,
            &phone,
            purpose.into(),
        )
        .await?;
        Ok(sent.into())
    }

    /// A new image captcha for `loginWithPassword`.
    async fn create_captcha(&self, ctx: &Context<'_>) -> Result<Captcha> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let issued = captcha::create(&mut conn, &app.services()).await?;
        Ok(Captcha {
            id: ID(issued.id.to_string()),
            image_png: issued.image_data_url,
            expires_at: issued.expires_at,
        })
    }

    /// Creates an account and logs it in. The password needs 8-16 characters
    /// with three of upper, lower, digit and symbol.
    async fn register(
        &self,
        ctx: &Context<'_>,
        phone: String,
        password: String,
        sms_code: String,
        accept_agreements: bool,
    ) -> Result<Session> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let input = register::Registration {
            phone: &phone,
            password: &password,
            sms_code: &sms_code,
            accept_agreements,
        };
        let issued =
            register::register(&mut conn, &app.services(), &ctx.request().meta, input).await?;
        Ok(issued.into())
    }

    async fn login_with_sms(
        &self,
        ctx: &Context<'_>,
        phone: String,
        sms_code: String,
    ) -> Result<Session> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let issued = login::login_with_sms(
            &mut conn,
            &app.services(),
            &ctx.request().meta,
            &phone,
            &sms_code,
        )
        .await?;
        Ok(issued.into())
    }

    /// Needs a fresh captcha, which is used up whatever the outcome. Five
    /// failures in 15 minutes lock password login for the phone for 15
    /// minutes; SMS login keeps working.
    async fn login_with_password(
        &self,
        ctx: &Context<'_>,
        phone: String,
        password: String,
        captcha_id: ID,
        captcha_answer: String,
    ) -> Result<Session> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let input = login::PasswordLogin {
            phone: &phone,
            password: &password,
            captcha_id: parse_id("captchaId", &captcha_id)?,
            captcha_answer: &captcha_answer,
        };
        let issued =
            login::login_with_password(&mut conn, &app.services(), &ctx.request().meta, input)
                .await?;
        Ok(issued.into())
    }

    /// A nonce for `bindUkey` or `loginWithCertificate`.
    async fn create_certificate_challenge(
        &self,
        ctx: &Context<'_>,
    ) -> Result<CertificateChallenge> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let issued = ukey::create_challenge(&mut conn, &app.services()).await?;
        Ok(CertificateChallenge {
            id: ID(issued.id.to_string()),
            nonce: STANDARD.encode(&issued.nonce),
            expires_at: issued.expires_at,
        })
    }

    /// Logs in with a bound personal UKey: `signature` is base64 of the key's
    /// SHA-256 signature over the challenge nonce bytes.
    async fn login_with_certificate(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        certificate_pem: String,
        signature: String,
    ) -> Result<Session> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        let proof = ukey::Proof {
            challenge_id: parse_id("challengeId", &challenge_id)?,
            certificate_pem: &certificate_pem,
            signature: &signature,
        };
        let issued = ukey::login(&mut conn, &app.services(), &ctx.request().meta, proof).await?;
        Ok(issued.into())
    }

    /// Sets a new password with a RESET_PASSWORD code; ends every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        phone: String,
        new_password: String,
        sms_code: String,
    ) -> Result<bool> {
        let app = ctx.app();
        let mut conn = ctx.conn().await?;
        register::reset_password(&mut conn, &app.services(), &phone, &new_password, &sms_code)
            .await?;
        Ok(true)
    }

    /// Ends the current session; its open subscriptions close.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        sessions::logout(&mut conn, &ctx.app().services(), &viewer).await?;
        Ok(true)
    }

    /// Changes the password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> Result<bool> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        profile::change_password(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            &old_password,
            &new_password,
        )
        .await?;
        Ok(true)
    }

    /// Moves the account to a new phone, proven by a CHANGE_PHONE code sent to it.
    async fn change_phone(
        &self,
        ctx: &Context<'_>,
        new_phone: String,
        sms_code: String,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let user = profile::change_phone(
            &mut conn,
            &ctx.app().services(),
            &viewer,
            &new_phone,
            &sms_code,
        )
        .await?;
        Ok(User::of_viewer(user))
    }

    /// Sets the contact email; a confirmation is mailed to it.
    async fn change_email(&self, ctx: &Context<'_>, email: String) -> Result<User> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let user = profile::change_email(&mut conn, &ctx.app().services(), &viewer, &email).await?;
        Ok(User::of_viewer(user))
    }

    /// Binds a personal UKey certificate to the viewer (enterprise
    /// certificates are refused), proven by a signed challenge.
    async fn bind_ukey(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        certificate_pem: String,
        signature: String,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let mut conn = ctx.conn().await?;
        let proof = ukey::Proof {
            challenge_id: parse_id("challengeId", &challenge_id)?,
            certificate_pem: &certificate_pem,
            signature: &signature,
        };
        let user = ukey::bind(
            &mut conn,
            &ctx.app().services(),
            &ctx.request().meta,
            &viewer,
            proof,
        )
        .await?;
        Ok(User::of_viewer(user))
    }
}

#[derive(Default)]
pub struct AccountsSubscription;

#[Subscription]
impl AccountsSubscription {
    /// The viewer's account each time it changes (phone, email, real-name
    /// result). Ends when the session ends.
    async fn me_updated(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Result<User>>> {
        let viewer = ctx.viewer()?;
        let app = ctx.app().clone();
        let receiver = app.events.subscribe();
        Ok(futures_util::stream::unfold(
            (receiver, app),
            move |(mut receiver, app)| async move {
                loop {
                    let changed = match receiver.recv().await {
                        Ok(Event::UserUpdated { user }) => user == viewer.user_id,
                        Ok(_) => false,
                        // Missed events may include this user's: send its current state.
                        Err(RecvError::Lagged(_)) => true,
                        Err(RecvError::Closed) => return None,
                    };
                    if changed {
                        let user = current_user(&app, &viewer).await;
                        return Some((user, (receiver, app)));
                    }
                }
            },
        ))
    }
}

async fn current_user(app: &App, viewer: &Viewer) -> Result<User> {
    let mut conn = app.pool.get().await.map_err(AppError::from)?;
    Ok(User::of_viewer(profile::me(&mut conn, viewer).await?))
}
