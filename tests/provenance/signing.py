"""A test certificate authority and C2PA signing, made locally in each test
session (ES256; the signer's certificate carries the key usages C2PA asks
for). Nothing here is a real trust anchor."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

DIGITAL_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass(frozen=True)
class TestAuthority:
    anchor_pem: bytes  # the CA certificate: a trust anchor for 'trusted'
    chain_pem: bytes  # signer certificate then the CA
    key_pem: bytes


def make_authority() -> TestAuthority:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "t2i-audit tests")])

    def usage(**on: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                               "data_encipherment", "key_agreement", "key_cert_sign",
                               "crl_sign", "encipher_only", "decipher_only"), False)
        return x509.KeyUsage(**{**flags, **on})

    def builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
                ) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (builder("t2i-audit test CA", name("t2i-audit test CA"), ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (builder("t2i-audit test signer", ca.subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return TestAuthority(
        anchor_pem=ca.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def sign(authority: TestAuthority, source: Path, target: Path, *, generator: str,
         mime: str = "image/png", remote_url: str | None = None) -> Path:
    """``source`` with a C2PA manifest claiming ``generator`` created it."""
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
        b"es256", authority.chain_pem, authority.key_pem, None))
    builder = c2pa.Builder({
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE}]}}]})
    if remote_url:
        builder.set_no_embed()
        builder.set_remote_url(remote_url)
    with open(source, "rb") as src, open(target, "w+b") as dst:
        builder.sign(signer, mime, src, dst)
    return target
