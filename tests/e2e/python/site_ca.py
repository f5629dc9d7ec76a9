"""A site certificate authority for tests, as a site running its own Fulcio
and CT log would have: a root (and optionally an intermediate) CA that
issues what Fulcio issues: an empty subject, one critical SAN (email or
URI), the OIDC issuer in extensions 1.3.6.1.4.1.57264.1.1 (raw bytes) and
.1.8 (DER UTF8String), KU digitalSignature (critical), EKU codeSigning, ten
minutes of validity, and an SCT from the site's CT log key embedded as a
precertificate SCT (RFC 6962 section 3.2).

`make_ca(DIR, ...)` writes DIR/ca.pem (the chain, the anchor last, for
`islet trust-root --ca`), DIR/ca-key.pem, DIR/ct.pub.pem (for `islet
trust-root --ctlog URL=DIR/ct.pub.pem`) and DIR/ct-key.pem; `SiteCA(DIR)`
loads them and issues leaves.
"""

import datetime
import hashlib
import os
import struct
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
IDENTITY = "signer@islet.test"
ISSUER = "https://oidc.islet.test"


def fail(reason: str) -> None:
    raise SystemExit(f"sigstore_tsa_flow: {reason}")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + der_length(len(raw)) + raw


def der_octet_string(raw: bytes) -> bytes:
    return b"\x04" + der_length(len(raw)) + raw


def pem_private(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sig_hash(key) -> hashes.HashAlgorithm:
    return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()


def ca_certificate(name, key, issuer_name, issuer_key, path_length, eku):
    start = now() - datetime.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, sig_hash(issuer_key))


def make_ca(outdir: str, intermediate: bool, root_curve: str) -> dict:
    os.makedirs(outdir, exist_ok=True)
    curve = ec.SECP384R1() if root_curve == "p384" else ec.SECP256R1()
    root_key = ec.generate_private_key(curve)
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "islet.test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "islet test site CA root"),
        ]
    )
    root = ca_certificate(root_name, root_key, root_name, root_key, None, False)
    chain = [root]
    issuing_key = root_key
    if intermediate:
        inter_key = ec.generate_private_key(ec.SECP384R1())
        inter_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "islet.test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "islet test site CA intermediate"),
            ]
        )
        inter = ca_certificate(inter_name, inter_key, root_name, root_key, 0, True)
        chain = [inter, root]
        issuing_key = inter_key
    ct_key = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(outdir, "ca.pem"), "wb") as f:
        for c in chain:
            f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(outdir, "ca-key.pem"), "wb") as f:
        f.write(pem_private(issuing_key))
    with open(os.path.join(outdir, "ct-key.pem"), "wb") as f:
        f.write(pem_private(ct_key))
    with open(os.path.join(outdir, "ct.pub.pem"), "wb") as f:
        f.write(
            ct_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return {"chain": len(chain), "root_curve": root_curve}


class SiteCA:
    """The site's CA and CT log key, as written by make-ca."""

    def __init__(self, directory: str):
        with open(os.path.join(directory, "ca.pem"), "rb") as f:
            self.chain = x509.load_pem_x509_certificates(f.read())
        with open(os.path.join(directory, "ca-key.pem"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(os.path.join(directory, "ct-key.pem"), "rb") as f:
            self.ct_key = serialization.load_pem_private_key(f.read(), None)
        self.issuer = self.chain[0]

    def _builder(self, public_key, identity: str, issuer: str, extra=()):
        if "://" in identity:
            san = x509.UniformResourceIdentifier(identity)
        else:
            san = x509.RFC822Name(identity)
        start = now() - datetime.timedelta(minutes=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.issuer.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            # An empty subject makes the SAN critical (RFC 5280 4.2.1.6),
            # as in Fulcio's certificates.
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V2, der_utf8(issuer)), critical=False)
        )
        for ext in extra:
            builder = builder.add_extension(ext, critical=False)
        return builder

    def _sct(self, tbs_precert: bytes) -> bytes:
        """One SCT (RFC 6962 3.2, v1, precert entry) over the TBS without the
        SCT extension, TLS-encoded."""
        timestamp = int(time.time() * 1000)
        issuer_key_hash = hashlib.sha256(spki_der(self.issuer.public_key())).digest()
        extensions = b""
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp, 1)
            + issuer_key_hash
            + len(tbs_precert).to_bytes(3, "big")
            + tbs_precert
            + struct.pack("!H", len(extensions))
            + extensions
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        log_id = hashlib.sha256(spki_der(self.ct_key.public_key())).digest()
        return (
            struct.pack("!B", 0)
            + log_id
            + struct.pack("!Q", timestamp)
            + struct.pack("!H", len(extensions))
            + extensions
            # hash sha256 (4), signature ecdsa (3)
            + struct.pack("!BBH", 4, 3, len(signature))
            + signature
        )

    def issue(self, public_key, identity: str, issuer: str) -> x509.Certificate:
        builder = self._builder(public_key, identity, issuer)
        # The precertificate: the same TBS without the SCT list. The SCT
        # extension is added last, so removing it gives these bytes back.
        precert = builder.sign(self.key, sig_hash(self.key))
        tbs = precert.tbs_certificate_bytes
        sct = self._sct(tbs)
        sct_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
        ext = x509.UnrecognizedExtension(SCT_LIST, der_octet_string(sct_list))
        # Same serial and validity: rebuild from the precertificate's fields.
        final = (
            x509.CertificateBuilder()
            .subject_name(precert.subject)
            .issuer_name(precert.issuer)
            .public_key(public_key)
            .serial_number(precert.serial_number)
            .not_valid_before(precert.not_valid_before_utc)
            .not_valid_after(precert.not_valid_after_utc)
        )
        for e in precert.extensions:
            final = final.add_extension(e.value, critical=e.critical)
        cert = final.add_extension(ext, critical=False).sign(self.key, sig_hash(self.key))
        if cert.tbs_precertificate_bytes != tbs:
            fail("the certificate without its SCT list is not the precertificate that was logged")
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
        if len(scts.value) != 1:
            fail(f"expected one embedded SCT, cryptography reads {len(scts.value)}")
        return cert
