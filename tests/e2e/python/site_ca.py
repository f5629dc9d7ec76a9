"""A site certificate authority for tests, as a site running its own Fulcio
would have: a root CA that issues short-lived code-signing certificates
carrying an identity (an email SAN) and the OIDC issuer extensions Fulcio
writes (1.3.6.1.4.1.57264.1.1, raw, and 1.3.6.1.4.1.57264.1.8, a DER
UTF8String).

`islet trust-root --ca CA_PEM` lists the root in the trusted root's
`certificateAuthorities`.
"""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

IDENTITY = "signer@islet.test"
ISSUER = "https://oidc.islet.test"
OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    if len(data) >= 128:
        raise ValueError("issuer too long for this encoder")
    return bytes([0x0C, len(data)]) + data


class SiteCa:
    """A root CA (ECDSA P-256) valid from an hour ago for a day."""

    @classmethod
    def load_or_create(cls, directory: str) -> "SiteCa":
        """The CA kept in `directory` (ca.key.pem, ca.pem), made on first use."""
        import os

        key_path, cert_path = os.path.join(directory, "ca.key.pem"), os.path.join(directory, "ca.pem")
        if os.path.exists(key_path):
            ca = cls.__new__(cls)
            with open(key_path, "rb") as f:
                ca.key = serialization.load_pem_private_key(f.read(), None)
            with open(cert_path, "rb") as f:
                ca.cert = x509.load_pem_x509_certificate(f.read())
            return ca
        ca = cls()
        with open(key_path, "wb") as f:
            f.write(
                ca.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        ca.write_pem(cert_path)
        return ca

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "islet test site"),
                x509.NameAttribute(NameOID.COMMON_NAME, "islet test site CA"),
            ]
        )
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
            .sign(self.key, hashes.SHA256())
        )

    def write_pem(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def leaf_builder(
        self, key: ec.EllipticCurvePrivateKey, identity: str = IDENTITY, issuer: str = ISSUER
    ) -> x509.CertificateBuilder:
        """A Fulcio-like leaf for `key`, valid ten minutes from a minute ago."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(minutes=10))
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
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V2, _der_utf8(issuer)), critical=False
            )
        )

    def issue(self, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        """A leaf without SCTs (a site CA without a CT log)."""
        return self.leaf_builder(key).sign(self.key, hashes.SHA256())
