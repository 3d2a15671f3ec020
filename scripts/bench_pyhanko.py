"""pyHanko signing the benchmark contract with P-256 and a signature
timestamp, tuned: key and certificates loaded once, the signature space
pre-sized, an in-process timestamper. Prints signatures per second and the
ratio to the Rust rate the benchmark left in rust-rate.txt."""

import asyncio
import io
import sys
import time
from pathlib import Path

from pyhanko.sign import signers, timestamps
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko_certvalidator.registry import SimpleCertificateStore
from asn1crypto import keys, x509, pem


class EcdsaTimeStamper(timestamps.DummyTimeStamper):
    """pyHanko's in-process timestamper, which signs with RSA only, taught
    ECDSA P-256 like the platform TSA."""

    def _sign_tst_info(self, tst_info_data, md_algorithm, dt):
        from asn1crypto import cms as asn1_cms, core
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from pyhanko.sign import general

        digest = hashes.Hash(hashes.SHA256())
        digest.update(tst_info_data)
        signed_attrs = asn1_cms.CMSAttributes(
            [
                general.simple_cms_attribute("content_type", "tst_info"),
                general.simple_cms_attribute(
                    "signing_time", asn1_cms.Time({"utc_time": core.UTCTime(dt)})
                ),
                general.simple_cms_attribute(
                    "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                ),
                general.simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        key = self._key or serialization.load_der_private_key(self.tsa_key.dump(), password=None)
        self._key = key
        return key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256())), signed_attrs

    def _build_signed_data(self, tst_info_data, md_algorithm, signature, signed_attrs):
        data = super()._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
        from asn1crypto import algos
        data["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
            {"algorithm": "sha256_ecdsa"}
        )
        return data

    _key = None


def load_cert(path):
    data = path.read_bytes()
    _, _, der = pem.unarmor(data)
    return x509.Certificate.load(der)


def load_key(path):
    data = path.read_bytes()
    _, _, der = pem.unarmor(data)
    return keys.PrivateKeyInfo.load(der)


def main(directory):
    d = Path(directory)
    contract = (d / "contract.pdf").read_bytes()
    issuing = load_cert(d / "issuing.pem")
    signer = signers.SimpleSigner(
        signing_cert=load_cert(d / "signer.pem"),
        signing_key=load_key(d / "signer.key"),
        cert_registry=SimpleCertificateStore.from_certs([issuing]),
    )
    stamper = EcdsaTimeStamper(
        tsa_cert=load_cert(d / "tsa.pem"),
        tsa_key=load_key(d / "tsa.key"),
        certs_to_embed=SimpleCertificateStore.from_certs([issuing]),
    )
    meta = signers.PdfSignatureMetadata(field_name="employer", subfilter=SigSeedSubFilter.PADES)

    def sign_once():
        writer = IncrementalPdfFileWriter(io.BytesIO(contract))
        out = signers.sign_pdf(
            writer,
            meta,
            signer=signer,
            timestamper=stamper,
            bytes_reserved=8192,
            new_field_spec=SigFieldSpec(sig_field_name="employer", on_page=9),
        )
        return out.getvalue()

    sign_once()
    n = 100
    started = time.perf_counter()
    for _ in range(n):
        sign_once()
    rate = n / (time.perf_counter() - started)
    print(f"pyHanko PAdES B-T signature: {rate:.0f}/s ({1000 / rate:.2f} ms each)")
    rust = float((d / "rust-rate.txt").read_text())
    print(f"ours / pyHanko: {rust / rate:.1f}x")

    # Verification of the same B-T signature, revocation checks off on both
    # sides (no CRLs given to ours, no fetching for pyHanko).
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    signed = (d / "rust-signed.pdf").read_bytes()
    context = ValidationContext(
        trust_roots=[load_cert(d / "root.pem")], allow_fetching=False, revocation_mode="soft-fail"
    )

    def verify_once():
        reader = PdfFileReader(io.BytesIO(signed))
        status = validate_pdf_signature(reader.embedded_signatures[0], context)
        assert status.intact and status.valid, status

    verify_once()
    n = 100
    started = time.perf_counter()
    for _ in range(n):
        verify_once()
    verify_rate = n / (time.perf_counter() - started)
    print(f"pyHanko validation: {verify_rate:.0f}/s ({1000 / verify_rate:.2f} ms each)")
    rust_verify = float((d / "rust-verify-rate.txt").read_text())
    print(f"ours / pyHanko (verification): {rust_verify / verify_rate:.1f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-signing")
