//! Enumerations stored as text columns with CHECK constraints.

use std::io::Write;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name { $($variant),* }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                Ok(text.parse()?)
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

/// A text column held a value the code does not know: a bug or a bad migration.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} value {value:?} in the database")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

text_enum!(SmsPurpose {
    Register => "REGISTER",
    Login => "LOGIN",
    ResetPassword => "RESET_PASSWORD",
    ChangePhone => "CHANGE_PHONE",
    RealName => "REAL_NAME",
    OrderAuthorization => "ORDER_AUTHORIZATION",
    OrderConfirmation => "ORDER_CONFIRMATION",
});

text_enum!(IdType {
    ResidentIdCard => "RESIDENT_ID_CARD",
    Passport => "PASSPORT",
    HkMacaoPermit => "HK_MACAO_PERMIT",
    TaiwanPermit => "TAIWAN_PERMIT",
    ForeignPermanentResident => "FOREIGN_PERMANENT_RESIDENT",
});

text_enum!(RealNameMethod {
    Face => "FACE",
    BankCard4 => "BANK_CARD_4",
    Carrier3 => "CARRIER_3",
});

text_enum!(RealNameStatus {
    Unverified => "UNVERIFIED",
    Pending => "PENDING",
    Verified => "VERIFIED",
    Failed => "FAILED",
});

text_enum!(CheckStatus {
    Pending => "PENDING",
    Verified => "VERIFIED",
    Failed => "FAILED",
});

text_enum!(OutboxStatus {
    Pending => "PENDING",
    Sent => "SENT",
    Failed => "FAILED",
});

text_enum!(PlatformRole {
    Operator => "OPERATOR",
    Regulator => "REGULATOR",
});

text_enum!(KeyPurpose {
    Root => "ROOT",
    Issuing => "ISSUING",
    Tsa => "TSA",
});

text_enum!(CertificateKind {
    Cloud => "CLOUD",
    Ukey => "UKEY",
});

text_enum!(KeyAlgorithm {
    EcdsaP256 => "ECDSA_P256",
    Sm2 => "SM2",
});

text_enum!(EnterpriseStatus {
    Certifying => "CERTIFYING",
    Certified => "CERTIFIED",
    RecertificationRequired => "RECERTIFICATION_REQUIRED",
});

text_enum!(MemberRole {
    Admin => "ADMIN",
    Member => "MEMBER",
});

text_enum!(CertificationMethod {
    CorporatePayment => "CORPORATE_PAYMENT",
    LegalRepPhone => "LEGAL_REP_PHONE",
    LegalRepBankCard => "LEGAL_REP_BANK_CARD",
});

text_enum!(OrderKind {
    New => "NEW",
    Renewal => "RENEWAL",
    Recertification => "RECERTIFICATION",
    AdminChange => "ADMIN_CHANGE",
});

text_enum!(OrderStatus {
    Draft => "DRAFT",
    AwaitingAuthorization => "AWAITING_AUTHORIZATION",
    AwaitingMaterials => "AWAITING_MATERIALS",
    AwaitingConfirmation => "AWAITING_CONFIRMATION",
    Reviewing => "REVIEWING",
    Rejected => "REJECTED",
    Approved => "APPROVED",
    Revoked => "REVOKED",
});

text_enum!(ApplicationStatus {
    Pending => "PENDING",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Cancelled => "CANCELLED",
});

text_enum!(SealKind {
    Official => "OFFICIAL",
    Contract => "CONTRACT",
    LegalRepresentative => "LEGAL_REPRESENTATIVE",
    Finance => "FINANCE",
    Date => "DATE",
    PersonalName => "PERSONAL_NAME",
    Handwritten => "HANDWRITTEN",
});

text_enum!(FieldType {
    Text => "TEXT",
    Number => "NUMBER",
    Date => "DATE",
    IdNumber => "ID_NUMBER",
    Phone => "PHONE",
    Money => "MONEY",
});

text_enum!(SealStatus {
    Enabled => "ENABLED",
    Disabled => "DISABLED",
    Voided => "VOIDED",
});

text_enum!(TemplateStatus {
    Draft => "DRAFT",
    Published => "PUBLISHED",
    Disabled => "DISABLED",
});

text_enum!(PartyKind {
    Enterprise => "ENTERPRISE",
    Person => "PERSON",
});

text_enum!(TaskStatus {
    InProgress => "IN_PROGRESS",
    Completed => "COMPLETED",
    Voided => "VOIDED",
});

text_enum!(VoidReason {
    Expired => "EXPIRED",
    Revoked => "REVOKED",
    Refused => "REFUSED",
});

text_enum!(SignOrder {
    Unordered => "UNORDERED",
    Sequential => "SEQUENTIAL",
});

text_enum!(SignerStatus {
    Waiting => "WAITING",
    Pending => "PENDING",
    Signed => "SIGNED",
    Refused => "REFUSED",
});

text_enum!(DocumentStatus {
    InProgress => "IN_PROGRESS",
    Completed => "COMPLETED",
    Voided => "VOIDED",
});

text_enum!(QuotaKind {
    Grant => "GRANT",
    Purchase => "PURCHASE",
    Consume => "CONSUME",
    Refund => "REFUND",
});

text_enum!(AttemptStatus {
    Prepared => "PREPARED",
    Signed => "SIGNED",
    Applied => "APPLIED",
    Abandoned => "ABANDONED",
});
