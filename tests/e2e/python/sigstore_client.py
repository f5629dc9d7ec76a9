"""Drive an islet log with sigstore-python's own Rekor v2 client.

Follows ../shared/specs/rekor-v2.md section 7.2: entries built by
sigstore-python's request builder (X.509 certificate verifier) and entries
with public-key verifiers, each verified offline by sigstore-python's
`_verify` against the trusted root that `islet trust-root` produced; every
canonicalized body is compared with the body rebuilt here; a resubmission
must fail with the 409 error.

Usage: python sigstore_client.py CLIENT_TRUST_CONFIG N
Prints one JSON line: {"indexes": [...], "duplicate_errors": [...]}.
Exits non-zero, with the reason, on any failure.
"""

import base64
import datetime
import hashlib
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID
from sigstore._internal.rekor import RekorClientError
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore._internal.trust import KeyringPurpose
from sigstore.hashes import Hashed
from sigstore.models import ClientTrustConfig
from sigstore_models.common.v1 import HashAlgorithm


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def self_signed_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "islet test signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def expected_body(digest: bytes, sig: bytes, verifier: dict) -> bytes:
    """The leaf as rekor-v2.md section 2.4 defines it (JCS of protojson)."""
    entry = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": {"content": b64(sig), "verifier": verifier},
            }
        },
    }
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def check(entry, keyring, want_body: bytes) -> int:
    entry._verify(keyring)
    inner = entry._inner
    if inner.canonicalized_body != want_body:
        raise SystemExit(f"body differs:\n got  {inner.canonicalized_body!r}\n want {want_body!r}")
    proof = inner.inclusion_proof
    if proof is None or proof.checkpoint is None:
        raise SystemExit("response has no inclusion proof with a checkpoint")
    if inner.kind_version.kind != "hashedrekord" or inner.kind_version.version != "0.0.2":
        raise SystemExit(f"kindVersion is {inner.kind_version}")
    return int(inner.log_index)


def rekor_v2_client(config_path: str) -> RekorV2Client:
    """The log of the signing config, as sigstore-python's Rekor v2 client.

    sigstore-python's `SigningConfig` refuses a config without a Fulcio URL,
    and islet lists none unless the site has one; the log's entry is read
    from the JSON instead.
    """
    with open(config_path) as f:
        tlogs = json.load(f)["signingConfig"]["rekorTlogUrls"]
    if len(tlogs) != 1 or tlogs[0]["majorApiVersion"] != 2:
        raise SystemExit(f"expected one Rekor v2 log, got {tlogs}")
    return RekorV2Client(tlogs[0]["url"])


def main() -> None:
    config_path, count = sys.argv[1], int(sys.argv[2])
    with open(config_path) as f:
        cfg = ClientTrustConfig.from_json(f.read())
    client = rekor_v2_client(config_path)
    keyring = cfg.trusted_root.rekor_keyring(KeyringPurpose.VERIFY)

    indexes, duplicate_errors = [], []
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        artifact = f"islet artifact {i}".encode()
        digest = hashlib.sha256(artifact).digest()
        sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        if i % 2 == 0:
            # sigstore-python's own request builder: certificate verifier.
            cert = self_signed_certificate(key)
            request = RekorV2Client._build_hashed_rekord_request(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest), sig, cert
            )
            verifier = {
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "x509Certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
            }
        else:
            spki = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            verifier = {"keyDetails": "PKIX_ECDSA_P256_SHA_256", "publicKey": {"rawBytes": b64(spki)}}
            request = {
                "hashedRekordRequestV002": {
                    "digest": b64(digest),
                    "signature": {"content": b64(sig), "verifier": verifier},
                }
            }
        entry = client.create_entry(request)
        indexes.append(check(entry, keyring, expected_body(digest, sig, verifier)))
        if i < 2:
            try:
                client.create_entry(request)
            except RekorClientError as e:
                duplicate_errors.append(str(e))
            else:
                raise SystemExit("a resubmission was accepted")
    print(json.dumps({"indexes": indexes, "duplicate_errors": duplicate_errors}))


if __name__ == "__main__":
    main()
