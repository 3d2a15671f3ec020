//! SM2 signatures with SM3 (GM/T 0003, 0004) under the signer ID of
//! GM/T 0009, "1234567812345678", which certificates, CRLs, CMS and
//! timestamp tokens use. OpenSSL 3.0 signs and verifies SM2 with an empty
//! ID unless told otherwise, and rust-openssl cannot tell it; so the digest
//! e = SM3(Z || M) is made here and OpenSSL signs or verifies e itself.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcKeyRef, EcPoint};
use openssl::hash::{Hasher, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use spki::ObjectIdentifier;

/// The SM2 curve, as SubjectPublicKeyInfo parameters name it.
pub const SM2_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// SM2 signature with SM3 (GM/T 0006), the signatureAlgorithm of
/// certificates, CRLs and SignerInfos.
pub const SM2_WITH_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
/// The signer ID of GM/T 0009 that SM2 signatures use unless agreed otherwise.
pub const DEFAULT_ID: &[u8] = b"1234567812345678";

#[derive(Debug, thiserror::Error)]
pub enum Sm2Error {
    #[error("not an SM2 key")]
    NotSm2,
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// e = SM3(Z || M), Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA).
pub fn digest(key: &EcKeyRef<impl HasPublic>, message: &[u8]) -> Result<Vec<u8>, Sm2Error> {
    let group = key.group();
    let mut ctx = BigNumContext::new()?;
    let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
    group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
    let (mut gx, mut gy) = (BigNum::new()?, BigNum::new()?);
    group
        .generator_opt()
        .ok_or(Sm2Error::NotSm2)?
        .affine_coordinates(group, &mut gx, &mut gy, &mut ctx)?;
    let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
    key.public_key()
        .affine_coordinates(group, &mut x, &mut y, &mut ctx)?;
    let mut z = Hasher::new(MessageDigest::sm3())?;
    let id_bits = u16::try_from(DEFAULT_ID.len() * 8).map_err(|_| Sm2Error::NotSm2)?;
    z.update(&id_bits.to_be_bytes())?;
    z.update(DEFAULT_ID)?;
    for n in [&a, &b, &gx, &gy, &x, &y] {
        z.update(&n.to_vec_padded(32)?)?;
    }
    let z = z.finish()?;
    let mut e = Hasher::new(MessageDigest::sm3())?;
    e.update(&z)?;
    e.update(message)?;
    Ok(e.finish()?.to_vec())
}

/// Whether a SubjectPublicKeyInfo (DER) holds an SM2 key.
pub fn is_sm2(spki_der: &[u8]) -> bool {
    spki::SubjectPublicKeyInfoRef::try_from(spki_der)
        .is_ok_and(|info| info.algorithm.parameters_oid().ok() == Some(SM2_CURVE))
}

/// An SM2 public key (SubjectPublicKeyInfo DER) as an EC key (for its
/// point) and as an SM2-typed PKey. OpenSSL 3.0 decodes SM2 keys into
/// provider keys that neither expose their EC_KEY nor sign a given digest
/// as SM2, so the key is rebuilt from the point.
pub fn public_key(spki_der: &[u8]) -> Result<(EcKey<Public>, PKey<Public>), Sm2Error> {
    let info = spki::SubjectPublicKeyInfoRef::try_from(spki_der).map_err(|_| Sm2Error::NotSm2)?;
    if info.algorithm.parameters_oid().ok() != Some(SM2_CURVE) {
        return Err(Sm2Error::NotSm2);
    }
    let point_bytes = info.subject_public_key.as_bytes().ok_or(Sm2Error::NotSm2)?;
    let group = EcGroup::from_curve_name(Nid::SM2)?;
    let mut ctx = BigNumContext::new()?;
    let point = EcPoint::from_bytes(&group, point_bytes, &mut ctx)?;
    let ec = EcKey::from_public_key(&group, &point)?;
    ec.check_key()?;
    let pkey = PKey::from_ec_key(ec.clone())?;
    Ok((ec, pkey))
}

/// The SM2 signature (DER SM2-Sig-Value) of `message` under the default ID.
pub fn sign(key: &PKeyRef<Private>, message: &[u8]) -> Result<Vec<u8>, Sm2Error> {
    if !is_sm2(&key.public_key_to_der()?) {
        return Err(Sm2Error::NotSm2);
    }
    // The traditional encoding is SEC1 with the curve and the public point.
    let ec = EcKey::private_key_from_der(&key.private_key_to_der()?)?;
    let e = digest(&ec, message)?;
    let legacy = PKey::from_ec_key(ec)?;
    let mut ctx = PkeyCtx::new(&legacy)?;
    ctx.sign_init()?;
    let mut signature = Vec::new();
    ctx.sign_to_vec(&e, &mut signature)?;
    Ok(signature)
}

/// Whether `signature` (DER) is the SM2 signature of `message` under the
/// default ID by the key of `spki_der`.
pub fn verify(spki_der: &[u8], message: &[u8], signature: &[u8]) -> Result<bool, Sm2Error> {
    let (ec, key) = public_key(spki_der)?;
    let e = digest(&ec, message)?;
    let mut ctx = PkeyCtx::new(&key)?;
    ctx.verify_init()?;
    // A malformed signature is simply not a valid one.
    Ok(ctx.verify(&e, signature).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::sm2::dsa::signature::{Signer as _, Verifier as _};

    fn key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::SM2).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// The same key in the RustCrypto sm2 crate, an independent implementation.
    fn rustcrypto(key: &PKey<Private>) -> ::sm2::dsa::SigningKey {
        let ec = EcKey::private_key_from_der(&key.private_key_to_der().unwrap()).unwrap();
        let secret =
            ::sm2::SecretKey::from_slice(&ec.private_key().to_vec_padded(32).unwrap()).unwrap();
        ::sm2::dsa::SigningKey::new("1234567812345678", &secret).unwrap()
    }

    fn der_to_raw(der: &[u8]) -> ::sm2::dsa::Signature {
        let sig = openssl::ecdsa::EcdsaSig::from_der(der).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        ::sm2::dsa::Signature::from_slice(&raw).unwrap()
    }

    #[test]
    fn our_signatures_verify_in_the_sm2_crate_and_theirs_here() {
        // Keys as the platform stores them: PKCS#8, decoded by OpenSSL 3.0.
        let generated = key();
        let key = PKey::private_key_from_pkcs8(&generated.private_key_to_pkcs8().unwrap()).unwrap();
        let theirs = rustcrypto(&key);
        let spki = key.public_key_to_der().unwrap();

        let ours = sign(&key, b"contract").unwrap();
        let verifying = theirs.verifying_key();
        assert!(verifying.verify(b"contract", &der_to_raw(&ours)).is_ok());
        assert!(verifying.verify(b"contracT", &der_to_raw(&ours)).is_err());
        assert!(verify(&spki, b"contract", &ours).unwrap());
        assert!(!verify(&spki, b"contracT", &ours).unwrap());

        let signature: ::sm2::dsa::Signature = theirs.sign(b"contract");
        let raw = signature.to_bytes();
        let der = openssl::ecdsa::EcdsaSig::from_private_components(
            BigNum::from_slice(&raw[..32]).unwrap(),
            BigNum::from_slice(&raw[32..]).unwrap(),
        )
        .unwrap()
        .to_der()
        .unwrap();
        assert!(verify(&spki, b"contract", &der).unwrap());
        assert!(!verify(&spki, b"contract", b"garbage").unwrap());
    }

    #[test]
    fn other_keys_are_refused() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let p256 = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        assert!(matches!(sign(&p256, b"x"), Err(Sm2Error::NotSm2)));
        let spki = p256.public_key_to_der().unwrap();
        assert!(!is_sm2(&spki));
        assert!(matches!(verify(&spki, b"x", b"y"), Err(Sm2Error::NotSm2)));
    }
}
