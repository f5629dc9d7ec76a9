"""Write Sigstore bundles for entries that sigstore-python logs in islet.

Each entry is made the way `sigstore sign` and `sigstore attest` make them,
with a site CA in Fulcio's place: a fresh P-256 key and a certificate for
it from the test's site CA (site_ca.py, with an SCT of the site's CT log), a timestamp
over the signature from islet's own TSA through sigstore-python's
timestamp client, the request built by sigstore-python's own RekorV2Client
builders, and the bundle put together by sigstore-python's
`Bundle._from_parts` from the TransparencyLogEntry islet answered with.

Even i: an artifact signature (hashedrekord); every fourth also records the
message digest in the bundle. Odd i: an in-toto statement about the
artifact in a DSSE envelope (logged as a hashedrekord over the PAE, as
sigstore-python 4.5 does).

Usage: python sigstore_bundles.py CLIENT_TRUST_CONFIG OUTDIR N [CA_DIR]
The site CA and CT key are kept in CA_DIR (default OUTDIR) and made on
first use; CA_DIR/ca.pem and CA_DIR/ct.pub.pem are what `islet trust-root
--ca` and `--ctlog` list. Writes
OUTDIR/bundle-<i>.sigstore.json and OUTDIR/artifact-<i>; prints one JSON
line {"indexes": [...], "identity": ..., "issuer": ...}.
"""

import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from sigstore import dsse
from sigstore._internal.rekor.client_v2 import RekorV2Client
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore_models.common.v1 import HashAlgorithm, HashOutput, MessageSignature

from sigstore._internal.timestamp import TimestampAuthorityClient

from sigstore_client import rekor_v2_client
from site_ca import IDENTITY, ISSUER, SiteCA, make_ca


def main() -> None:
    config_path, outdir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ca_dir = sys.argv[4] if len(sys.argv) > 4 else outdir
    client = rekor_v2_client(config_path)
    with open(config_path) as f:
        (tsa_service,) = json.load(f)["signingConfig"]["tsaUrls"]
    tsa = TimestampAuthorityClient(tsa_service["url"])
    if not os.path.exists(os.path.join(ca_dir, "ca.pem")):
        make_ca(ca_dir, intermediate=False, root_curve="p256")
    ca = SiteCA(ca_dir)
    indexes = []
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = ca.issue(key.public_key(), IDENTITY, ISSUER)
        artifact = f"islet bundle artifact {i}\n".encode()
        digest = hashlib.sha256(artifact).digest()
        if i % 2 == 0:
            sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            request = RekorV2Client._build_hashed_rekord_request(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest), sig, cert
            )
            entry = client.create_entry(request)
            message_digest = None
            if i % 4 == 0:
                message_digest = HashOutput(
                    algorithm=HashAlgorithm.SHA2_256, digest=base64.b64encode(digest)
                )
            content = MessageSignature(
                message_digest=message_digest, signature=base64.b64encode(sig)
            )
            signature = sig
        else:
            stmt = (
                dsse.StatementBuilder()
                .subjects([dsse.Subject(name=f"artifact-{i}", digest={"sha256": digest.hex()})])
                .predicate_type("https://islet.example/test/v1")
                .predicate({"i": i})
                .build()
            )
            content = dsse._sign(key, stmt)
            signature = content.signature
            entry = client.create_entry(RekorV2Client._build_dsse_request(content, cert))
        timestamp = tsa.request_timestamp(signature)
        bundle = Bundle._from_parts(cert, content, entry, [timestamp])
        with open(os.path.join(outdir, f"bundle-{i}.sigstore.json"), "w") as f:
            f.write(bundle.to_json())
        with open(os.path.join(outdir, f"artifact-{i}"), "wb") as f:
            f.write(artifact)
        indexes.append(int(entry._inner.log_index))
    print(json.dumps({"indexes": indexes, "identity": IDENTITY, "issuer": ISSUER}))


if __name__ == "__main__":
    main()
