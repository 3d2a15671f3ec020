//! The platform's timestamping authority (RFC 3161): tokens over a SHA-256
//! or SM3 imprint, signed with the TSA certificate (ECDSA P-256 with SHA-256
//! or SM2 with SM3, as its key is), the time from the caller's clock,
//! random 127-bit serial numbers.

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use der::asn1::{GeneralizedTime, Int, OctetString};
use der::{Any, Decode, Encode};
use openssl::pkey::{PKeyRef, Private};
use x509_cert::spki::AlgorithmIdentifier;
use x509_tsp::{Accuracy, MessageImprint, TspVersion, TstInfo};

use crate::pki::algorithms::{Digest, SignError, SignatureAlgorithm};
use crate::pki::cms::{self, Cert, CmsError, ID_CT_TST_INFO, SignerParts, signed_attributes};

/// The policy under which the platform TSA issues tokens. An OID of the
/// platform operator's own arc belongs here before production use; this one
/// names the policy uniquely within the platform.
pub const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.59541.1.1");

pub struct Tsa<'a> {
    pub cert: &'a Cert,
    /// The CA certificates above the TSA certificate, embedded in tokens.
    pub chain: &'a [Cert],
    pub key: &'a PKeyRef<Private>,
}

fn random_serial() -> Result<Int, CmsError> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes)?;
    // Positive and without a leading zero byte: DER-minimal.
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    Ok(Int::new(&bytes)?)
}

/// A TimeStampToken (ContentInfo DER) over `imprint`, the digest of the
/// stamped data made with `imprint_algorithm`.
pub fn issue_token(
    tsa: &Tsa<'_>,
    imprint_algorithm: Digest,
    imprint: &[u8],
    at: DateTime<Utc>,
    nonce: Option<Int>,
) -> Result<Vec<u8>, CmsError> {
    let algorithm = SignatureAlgorithm::of_key(tsa.key).ok_or(SignError::UnsupportedKey)?;
    let seconds = u64::try_from(at.timestamp()).map_err(|_| CmsError::Shape("time"))?;
    let info = TstInfo {
        version: TspVersion::V1,
        policy: POLICY,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier::<Any> {
                oid: imprint_algorithm.oid(),
                parameters: None,
            },
            hashed_message: OctetString::new(imprint)?,
        },
        serial_number: random_serial()?,
        gen_time: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))?,
        // der's GeneralizedTime has whole seconds.
        accuracy: Some(Accuracy {
            seconds: Some(1),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce,
        tsa: None,
        extensions: None,
    };
    let tst_der = info.to_der()?;
    let digest = algorithm.digest().hash(&[&tst_der])?;
    let attributes = signed_attributes(ID_CT_TST_INFO, &digest, tsa.cert, algorithm.digest())?;
    let signature = algorithm.sign(tsa.key, &cms::to_be_signed(&attributes)?)?;
    cms::signed_data(
        ID_CT_TST_INFO,
        Some(&tst_der),
        SignerParts {
            signer: tsa.cert,
            chain: tsa.chain,
            signed_attributes: attributes,
            algorithm,
            signature,
            timestamp_token: None,
        },
    )
}

/// The TSTInfo inside a token.
pub fn token_info(token: &[u8]) -> Result<TstInfo, CmsError> {
    let data = cms::parse_signed_data(token)?;
    if data.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(CmsError::Shape("not a timestamp token"));
    }
    let content = data
        .encap_content_info
        .econtent
        .ok_or(CmsError::Shape("timestamp token without content"))?;
    let octets = content.decode_as::<OctetString>()?;
    Ok(TstInfo::from_der(octets.as_bytes())?)
}

/// An RFC 3161 request for an imprint made with `algorithm`, with a nonce
/// and the TSA's certificate asked for.
pub fn request(algorithm: Digest, imprint: &[u8], nonce: &[u8; 8]) -> Result<Vec<u8>, CmsError> {
    let mut nonce_bytes = nonce.to_vec();
    // Positive and without a leading zero byte: DER-minimal (a zero first
    // byte made about one request in 500 undecodable).
    nonce_bytes[0] = (nonce_bytes[0] & 0x7F) | 0x40;
    let request = x509_tsp::TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier::<Any> {
                oid: algorithm.oid(),
                parameters: None,
            },
            hashed_message: OctetString::new(imprint)?,
        },
        req_policy: None,
        nonce: Some(Int::new(&nonce_bytes)?),
        cert_req: true,
        extensions: None,
    };
    Ok(request.to_der()?)
}

/// The token of an RFC 3161 response, checked against what was asked: a
/// granted status, the same imprint and nonce.
pub fn token_from_response(
    response: &[u8],
    imprint: &[u8],
    request_der: &[u8],
) -> Result<Vec<u8>, CmsError> {
    let asked = x509_tsp::TimeStampReq::from_der(request_der)?;
    let response = x509_tsp::TimeStampResp::from_der(response)?;
    use cmpv2::status::PkiStatus;
    if !matches!(
        response.status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Err(CmsError::Shape("the TSA refused the request"));
    }
    let token = response
        .time_stamp_token
        .ok_or(CmsError::Shape("the TSA answered without a token"))?
        .to_der()?;
    let info = token_info(&token)?;
    if info.message_imprint.hashed_message.as_bytes() != imprint
        || info.message_imprint.hash_algorithm.oid != asked.message_imprint.hash_algorithm.oid
    {
        return Err(CmsError::Shape("the token stamps another imprint"));
    }
    if info.nonce != asked.nonce {
        return Err(CmsError::Shape("the token answers another request"));
    }
    Ok(token)
}

/// The platform TSA answering an RFC 3161 request (DER in, DER out).
pub fn respond(tsa: &Tsa<'_>, request_der: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, CmsError> {
    let request = x509_tsp::TimeStampReq::from_der(request_der)?;
    // SHA-256 and SM3 digests are both 32 bytes.
    let algorithm = Digest::from_oid(&request.message_imprint.hash_algorithm.oid)
        .filter(|_| request.message_imprint.hashed_message.as_bytes().len() == 32)
        .ok_or(CmsError::Shape("only SHA-256 and SM3 imprints are stamped"))?;
    let token = issue_token(
        tsa,
        algorithm,
        request.message_imprint.hashed_message.as_bytes(),
        at,
        request.nonce,
    )?;
    let response = x509_tsp::TimeStampResp {
        status: cmpv2::status::PkiStatusInfo {
            status: cmpv2::status::PkiStatus::Accepted,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(::cms::content_info::ContentInfo::from_der(&token)?),
    };
    Ok(response.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_whatever_the_nonce() {
        for first in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
            let nonce = [first, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC];
            let der = request(Digest::Sha256, &[7u8; 32], &nonce).unwrap();
            let decoded = x509_tsp::TimeStampReq::from_der(&der).unwrap();
            assert!(decoded.nonce.is_some(), "nonce starting {first:#04x}");
        }
    }
}
