"""Verify bundles with sigstore-python's Verifier against a trusted root file.

Usage: python sigstore_verify_bundles.py TRUSTED_ROOT IDENTITY ISSUER BUNDLE ARTIFACT [BUNDLE ARTIFACT]...
A DSSE bundle is checked with verify_dsse and its in-toto subject against
the artifact's SHA-256. Prints "verified <bundle>" per bundle, or "refused <bundle>: <reason>" and
exits 1 at the first one the Verifier refuses.
"""

import hashlib
import json
import sys

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
from sigstore.errors import VerificationError


def main() -> None:
    root_path, identity, issuer = sys.argv[1], sys.argv[2], sys.argv[3]
    pairs = sys.argv[4:]
    verifier = Verifier(trusted_root=TrustedRoot.from_file(root_path))
    for bundle_path, artifact_path in zip(pairs[::2], pairs[1::2]):
        with open(bundle_path) as f:
            text = f.read()
        bundle = Bundle.from_json(text)
        with open(artifact_path, "rb") as f:
            artifact = f.read()
        identity_policy = policy.Identity(identity=identity, issuer=issuer)
        try:
            if "dsseEnvelope" in json.loads(text):
                # An in-toto statement: its subject must be the artifact.
                _, payload = verifier.verify_dsse(bundle, identity_policy)
                digests = [s["digest"]["sha256"] for s in json.loads(payload)["subject"]]
                if hashlib.sha256(artifact).hexdigest() not in digests:
                    raise VerificationError("the statement's subjects are not the artifact")
            else:
                verifier.verify_artifact(artifact, bundle, identity_policy)
        except VerificationError as e:
            print(f"refused {bundle_path}: {e}")
            sys.exit(1)
        print(f"verified {bundle_path}")


if __name__ == "__main__":
    main()
