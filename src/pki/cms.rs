//! CMS SignedData shaped for PAdES and RFC 3161, with the RustCrypto ASN.1
//! types: openssl's CMS always adds signingTime (PAdES baseline forbids it)
//! and cannot add unsigned attributes, nor sign SM2 with the standard ID.
//! The raw signature is `algorithms`' (ECDSA P-256 or SM2) over the DER of
//! the signed attributes.

use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

use crate::pki::algorithms::{Digest, SignError, SignatureAlgorithm};

pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const ID_SIGNATURE_TIME_STAMP: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("ASN.1: {0}")]
    Der(#[from] der::Error),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    /// x509-cert re-encodes what it decodes; a certificate that does not
    /// come back byte for byte would be embedded and hashed wrongly.
    #[error("a certificate does not survive decoding unchanged")]
    CertificateRoundTrip,
    #[error("signing: {0}")]
    Sign(#[from] SignError),
    #[error("the signed data does not have the expected shape: {0}")]
    Shape(&'static str),
}

/// ESS `SigningCertificateV2` (RFC 5035): binds the signature to the
/// signer's certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// DEFAULT id-sha256: omitted in DER when it is SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// A certificate decoded, with the DER it came as (which is what gets
/// hashed and embedded).
#[derive(Clone, Debug)]
pub struct Cert {
    pub der: Vec<u8>,
    pub parsed: Certificate,
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Self, CmsError> {
        let parsed = Certificate::from_der(der)?;
        if parsed.to_der()? != der {
            return Err(CmsError::CertificateRoundTrip);
        }
        Ok(Self {
            der: der.to_vec(),
            parsed,
        })
    }
}

fn algorithm_identifier(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    // SHA-256, SM3, ECDSA and SM2 identifiers all go without parameters.
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn signing_certificate_v2(signer: &Cert, digest: Digest) -> Result<Attribute, CmsError> {
    let issuer_serial = IssuerSerial {
        issuer: vec![GeneralName::DirectoryName(
            signer.parsed.tbs_certificate.issuer.clone(),
        )],
        serial_number: signer.parsed.tbs_certificate.serial_number.clone(),
    };
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            // DEFAULT id-sha256 is left out of the DER.
            hash_algorithm: (digest != Digest::Sha256).then(|| algorithm_identifier(digest.oid())),
            cert_hash: OctetString::new(digest.hash(&[&signer.der])?)?,
            issuer_serial: Some(issuer_serial),
        }],
    };
    attribute(ID_SIGNING_CERTIFICATE_V2, Any::encode_from(&value)?)
}

/// Exactly the PAdES baseline signed attributes: contentType,
/// messageDigest and signing-certificate-v2 (no signingTime); `digest` is
/// the content's, made with `algorithm`, which also hashes the certificate.
pub fn signed_attributes(
    content_type: ObjectIdentifier,
    digest: &[u8],
    signer: &Cert,
    algorithm: Digest,
) -> Result<SetOfVec<Attribute>, CmsError> {
    let attributes = vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&content_type)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest)?)?,
        )?,
        signing_certificate_v2(signer, algorithm)?,
    ];
    // SetOfVec sorts into DER order.
    Ok(SetOfVec::try_from(attributes)?)
}

/// The bytes that get signed: the DER of the attributes as a SET (tag 0x31).
pub fn to_be_signed(attributes: &SignedAttributes) -> Result<Vec<u8>, CmsError> {
    Ok(attributes.to_der()?)
}

/// The signed attributes of one SignerInfo.
pub type SignedAttributes = SetOfVec<Attribute>;

/// What goes into one SignerInfo.
pub struct SignerParts<'a> {
    pub signer: &'a Cert,
    /// Certificates to embed besides the signer's (the issuing CA).
    pub chain: &'a [Cert],
    pub signed_attributes: SetOfVec<Attribute>,
    /// What made `signature`; its digest made the signed attributes'.
    pub algorithm: SignatureAlgorithm,
    pub signature: Vec<u8>,
    /// A timestamp token (ContentInfo DER) over the signature, as the
    /// unsigned attribute signature-time-stamp.
    pub timestamp_token: Option<Vec<u8>>,
}

/// ContentInfo(SignedData) with one signer, DER. `econtent` is None for a
/// detached signature (PAdES), Some(TSTInfo DER) for a timestamp token.
pub fn signed_data(
    content_type: ObjectIdentifier,
    econtent: Option<&[u8]>,
    parts: SignerParts<'_>,
) -> Result<Vec<u8>, CmsError> {
    let mut certificates = vec![CertificateChoices::Certificate(parts.signer.parsed.clone())];
    for cert in parts.chain {
        certificates.push(CertificateChoices::Certificate(cert.parsed.clone()));
    }
    let unsigned_attrs = match parts.timestamp_token {
        Some(token) => Some(SetOfVec::try_from(vec![attribute(
            ID_SIGNATURE_TIME_STAMP,
            Any::from_der(&token)?,
        )?])?),
        None => None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: parts.signer.parsed.tbs_certificate.issuer.clone(),
            serial_number: parts.signer.parsed.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: algorithm_identifier(parts.algorithm.digest().oid()),
        signed_attrs: Some(parts.signed_attributes),
        signature_algorithm: algorithm_identifier(parts.algorithm.oid()),
        signature: OctetString::new(parts.signature)?,
        unsigned_attrs,
    };
    let digest_algorithm = algorithm_identifier(parts.algorithm.digest().oid());
    let econtent = match econtent {
        Some(bytes) => Some(Any::encode_from(&OctetString::new(bytes)?)?),
        None => None,
    };
    let data = SignedData {
        // RFC 5652 5.1: version 3 when the content is not id-data.
        version: if content_type == ID_DATA {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        },
        digest_algorithms: SetOfVec::try_from(vec![digest_algorithm])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certificates)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&data)?,
    };
    // Cert::from_der checked that each certificate re-encodes to the bytes
    // the CA signed, so the embedded ones are those bytes.
    Ok(info.to_der()?)
}

/// The SignedData inside a ContentInfo.
pub fn parse_signed_data(der: &[u8]) -> Result<SignedData, CmsError> {
    let info = ContentInfo::from_der(der)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(CmsError::Shape("not SignedData"));
    }
    Ok(info.content.decode_as::<SignedData>()?)
}

/// The value of the signed attribute `oid`, if present once.
pub fn attribute_value(attributes: &SetOfVec<Attribute>, oid: ObjectIdentifier) -> Option<&Any> {
    let mut found = attributes.iter().filter(|a| a.oid == oid);
    let attribute = found.next()?;
    if found.next().is_some() || attribute.values.len() != 1 {
        return None;
    }
    attribute.values.iter().next()
}

/// The certificates a CMS carries, with those of its signature timestamp
/// tokens, as DER.
pub fn embedded_certificates(der: &[u8]) -> Result<Vec<Vec<u8>>, CmsError> {
    let data = parse_signed_data(der)?;
    let mut out = Vec::new();
    if let Some(set) = &data.certificates {
        for choice in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = choice {
                out.push(cert.to_der()?);
            }
        }
    }
    for signer in data.signer_infos.0.iter() {
        if let Some(unsigned) = &signer.unsigned_attrs
            && let Some(token) = attribute_value(unsigned, ID_SIGNATURE_TIME_STAMP)
        {
            out.extend(embedded_certificates(&token.to_der()?)?);
        }
    }
    Ok(out)
}
