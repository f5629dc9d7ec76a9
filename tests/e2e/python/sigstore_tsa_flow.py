"""sigstore-python 4.5 signing and verifying end to end against islet's log
and timestamp authority, with a site CA that issues Fulcio-like
certificates carrying an embedded SCT.

Everything on the client side is sigstore-python's own code: its
`SigningContext` and `Signer` (which request the certificate, check its SCT
with `verify_sct`, take a timestamp with `TimestampAuthorityClient`, log the
entry with `RekorV2Client` and assemble the bundle with `Bundle._from_parts`)
and its `Verifier` with an `Identity` policy. The one piece that is not
sigstore-python is the certificate authority: Fulcio is replaced by an
in-process CA (`SiteFulcio`) that issues what Fulcio issues from the CSR the
Signer sends: the CSR's key, an empty subject, one critical SAN (email or
URI), the OIDC issuer in extensions 1.3.6.1.4.1.57264.1.1 (raw bytes) and
.1.8 (DER UTF8String), KU digitalSignature (critical), EKU codeSigning, ten
minutes of validity, and an SCT from the site's CT log key embedded as a
precertificate SCT (RFC 6962 section 3.2).

Phases:
  make-ca DIR [--intermediate] [--root-curve p256|p384]
      writes DIR/ca.pem (the chain: the intermediate first when there is one,
      the self-signed anchor last), DIR/ca-key.pem (the issuing key),
      DIR/ct.pub.pem and DIR/ct-key.pem (the CT log's ECDSA P-256 key).
  check-ca DIR
      issues a leaf and checks its SCT with sigstore-python's `verify_sct`
      and its chain with OpenSSL (X509_STRICT, as sigstore-python's Verifier
      does) against a trusted root built here, independent of islet.
  issue DIR NAME IDENTITY ISSUER
      a P-256 key and a leaf for it: DIR/NAME.key.pem, DIR/NAME.cert.pem
      (for the sigstore-js signer).
  sign DIR CLIENT_TRUST_CONFIG OTHER_TSA_URL
      signs with sigstore-python against the log and TSA of the
      ClientTrustConfig (from `islet trust-root --signing-config --ca
      DIR/ca.pem --ctlog URL=DIR/ct.pub.pem --ca-url URL`), verifies with
      sigstore-python's Verifier (must accept, and must refuse another
      identity), then signs once more taking the timestamp from
      OTHER_TSA_URL (a TSA the trusted root does not hold) and verifies
      (must refuse). Writes DIR/bundle-{email,uri,foreign-tsa}.sigstore.json
      and DIR/artifact-{email,uri,foreign-tsa}.
  verify CLIENT_TRUST_CONFIG BUNDLE ARTIFACT IDENTITY
      sigstore-python's Verifier with an Identity policy (issuer
      https://oidc.islet.test) on a bundle another client made.

Prints one JSON line with the results. Exits non-zero, with the reason, on
any unexpected outcome.
"""

import base64
import datetime
import hashlib
import json
import os
import sys
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL.crypto import X509, X509Store, X509StoreContext, X509StoreFlags

from sigstore._internal.fulcio.client import FulcioCertificateSigningResponse
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.sct import verify_sct
from sigstore._internal.timestamp import TimestampAuthorityClient
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy
from sigstore_models.trustroot import v1 as trustroot_v1

from site_ca import (
    SiteCA,
    fail,
    make_ca,
    now,
    pem_private,
    spki_der,
)

ISSUER = "https://oidc.islet.test"
IDENTITIES = {
    "email": "signer@islet.test",
    "uri": "https://ci.islet.test/pipelines/build@refs/heads/main",
}
# HS256 needs a key; sigstore-python never checks the token's signature
# (Fulcio does), and the site CA here takes the identity from the claims.
JWT_KEY = b"islet e2e test token key, not a secret"


class SiteFulcio:
    """What sigstore-python's Signer calls Fulcio through:
    `.signing_cert.post(csr, identity_token)`. Issues from the site CA."""

    def __init__(self, ca: SiteCA):
        self.ca = ca
        self.issued = []
        self.signing_cert = self

    def post(self, csr: x509.CertificateSigningRequest, token: IdentityToken):
        if not csr.is_signature_valid:
            fail("the Signer's CSR does not carry a proof of possession")
        cert = self.ca.issue(csr.public_key(), token.identity, token.issuer)
        self.issued.append(cert)
        return FulcioCertificateSigningResponse(cert=cert, chain=list(self.ca.chain))


def identity_token(identity: str) -> IdentityToken:
    t = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": identity,
        "aud": "sigstore",
        "iat": t,
        "nbf": t,
        "exp": t + 600,
    }
    return IdentityToken(jwt.encode(claims, JWT_KEY, algorithm="HS256"))


def local_trusted_root(ca: SiteCA) -> TrustedRoot:
    """A trusted root for check-ca, built here without islet: the site CA
    and the CT key (the tlog entry is only there because a root needs one)."""

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    start = (now() - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ct_spki = spki_der(ca.ct_key.public_key())
    tlog_key = ec.generate_private_key(ec.SECP256R1())
    root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": "https://log.islet.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(spki_der(tlog_key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(hashlib.sha256(spki_der(tlog_key.public_key())).digest())},
            }
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": "islet.test", "commonName": "islet test site CA root"},
                "uri": "https://fulcio.test.invalid",
                "certChain": {
                    "certificates": [
                        {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in ca.chain
                    ]
                },
                "validFor": {"start": start},
            }
        ],
        "ctlogs": [
            {
                "baseUrl": "https://ct.test.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(ct_spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(hashlib.sha256(ct_spki).digest())},
            }
        ],
        "timestampAuthorities": [],
    }
    return TrustedRoot(trustroot_v1.TrustedRoot.from_json(json.dumps(root)))


def strict_chain(cert: x509.Certificate, chain: list) -> list:
    """The verified chain (without the leaf), built the way sigstore-python's
    Verifier builds it: OpenSSL with X509_STRICT and the CA certificates as
    trusted."""
    store = X509Store()
    store.set_flags(X509StoreFlags.X509_STRICT)
    for c in chain:
        store.add_cert(X509.from_cryptography(c))
    verified = X509StoreContext(store, X509.from_cryptography(cert)).get_verified_chain()
    return [c.to_cryptography() for c in verified[1:]]


def check_ca(directory: str) -> dict:
    ca = SiteCA(directory)
    root = local_trusted_root(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    out = {}
    for kind, identity in IDENTITIES.items():
        cert = ca.issue(key.public_key(), identity, ISSUER)
        chain = strict_chain(cert, ca.chain)
        verify_sct(cert, chain, root.ct_keyring(KeyringPurpose.VERIFY))
        policy.Identity(identity=identity, issuer=ISSUER).verify(cert)
        out[kind] = "sct and chain verified"
    # A CT key the root does not hold: the same certificate must fail.
    other = SiteCA(directory)
    other.ct_key = ec.generate_private_key(ec.SECP256R1())
    cert = other.issue(key.public_key(), IDENTITIES["email"], ISSUER)
    try:
        verify_sct(cert, strict_chain(cert, ca.chain), root.ct_keyring(KeyringPurpose.VERIFY))
    except VerificationError as e:
        out["unknown_ct_key"] = str(e)
    else:
        fail("an SCT from a CT key outside the trusted root verified")
    return out


def issue(directory: str, name: str, identity: str, issuer: str) -> dict:
    ca = SiteCA(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), identity, issuer)
    with open(os.path.join(directory, f"{name}.key.pem"), "wb") as f:
        f.write(pem_private(key))
    with open(os.path.join(directory, f"{name}.cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return {"issued": name}


def sign(directory: str, config_path: str, other_tsa_url: str) -> dict:
    with open(config_path) as f:
        cfg = ClientTrustConfig.from_json(f.read())
    trusted_root = cfg.trusted_root
    tsas = cfg.signing_config.get_tsas()
    if len(tsas) != 1 or not tsas[0].url.endswith("/api/v1/timestamp"):
        fail(f"expected the signing config to name one TSA at /api/v1/timestamp, got {[t.url for t in tsas]}")
    tlogs = cfg.signing_config.get_tlogs()
    if len(tlogs) != 1 or not isinstance(tlogs[0], RekorV2Client):
        fail(f"expected one Rekor v2 log, got {tlogs}")
    ca = SiteCA(directory)
    fulcio = SiteFulcio(ca)
    ctx = SigningContext(fulcio=fulcio, rekor=tlogs[0], trusted_root=trusted_root, tsa_clients=tsas)
    verifier = Verifier(trusted_root=trusted_root)
    result = {"tsa_url": tsas[0].url, "accepted": [], "refused": {}}

    def write(name: str, bundle, artifact: bytes) -> None:
        with open(os.path.join(directory, f"bundle-{name}.sigstore.json"), "w") as f:
            f.write(bundle.to_json())
        with open(os.path.join(directory, f"artifact-{name}"), "wb") as f:
            f.write(artifact)

    def timestamps(bundle) -> int:
        data = bundle.verification_material.timestamp_verification_data
        return len(data.rfc3161_timestamps) if data else 0

    for kind, identity in IDENTITIES.items():
        artifact = f"islet TSA interop artifact ({kind})\n".encode()
        with ctx.signer(identity_token(identity), cache=True) as signer:
            bundle = signer.sign_artifact(artifact)
        if timestamps(bundle) != 1:
            fail(f"{kind}: expected one RFC 3161 timestamp in the bundle, got {timestamps(bundle)} (did the TSA fail?)")
        verifier.verify_artifact(artifact, bundle, policy.Identity(identity=identity, issuer=ISSUER))
        result["accepted"].append(kind)
        write(kind, bundle, artifact)
        # The policy is checked: another identity is refused.
        try:
            verifier.verify_artifact(
                artifact, bundle, policy.Identity(identity="someone-else@islet.test", issuer=ISSUER)
            )
        except VerificationError as e:
            result["refused"][f"{kind}-other-identity"] = str(e)
        else:
            fail(f"{kind}: the bundle verified for an identity it was not issued to")

    # The same flow, the timestamp taken from a TSA the trusted root does
    # not hold.
    foreign = SigningContext(
        fulcio=fulcio,
        rekor=tlogs[0],
        trusted_root=trusted_root,
        tsa_clients=[TimestampAuthorityClient(other_tsa_url)],
    )
    artifact = b"islet TSA interop artifact (foreign TSA)\n"
    identity = IDENTITIES["email"]
    with foreign.signer(identity_token(identity), cache=True) as signer:
        bundle = signer.sign_artifact(artifact)
    if timestamps(bundle) != 1:
        fail(f"foreign TSA: expected one timestamp from {other_tsa_url}, got {timestamps(bundle)}")
    write("foreign-tsa", bundle, artifact)
    try:
        verifier.verify_artifact(artifact, bundle, policy.Identity(identity=identity, issuer=ISSUER))
    except VerificationError as e:
        result["refused"]["foreign-tsa"] = str(e)
    else:
        fail("a bundle timestamped by a TSA outside the trusted root verified")
    result["certificates_issued"] = len(fulcio.issued)
    return result


def verify(config_path: str, bundle_path: str, artifact_path: str, identity: str) -> dict:
    """sigstore-python's Verifier on a bundle another client made."""
    with open(config_path) as f:
        cfg = ClientTrustConfig.from_json(f.read())
    with open(bundle_path) as f:
        bundle = Bundle.from_json(f.read())
    with open(artifact_path, "rb") as f:
        artifact = f.read()
    verifier = Verifier(trusted_root=cfg.trusted_root)
    verifier.verify_artifact(artifact, bundle, policy.Identity(identity=identity, issuer=ISSUER))
    return {"verified": bundle_path}


def main() -> None:
    args = sys.argv[1:]
    if not args:
        fail(__doc__)
    phase, rest = args[0], args[1:]
    if phase == "make-ca":
        curve = "p384"
        if "--root-curve" in rest:
            curve = rest[rest.index("--root-curve") + 1]
        out = make_ca(rest[0], "--intermediate" in rest, curve)
    elif phase == "check-ca":
        out = check_ca(rest[0])
    elif phase == "issue":
        out = issue(*rest[:4])
    elif phase == "sign":
        out = sign(*rest[:3])
    elif phase == "verify":
        out = verify(*rest[:4])
    else:
        fail(f"unknown phase {phase!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
