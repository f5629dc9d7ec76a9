"""Verify TransparencyLogEntry JSON files with sigstore-python's own `_verify`.

Used for entries that were carried to another site in a snapshot: the entry
is rebuilt there from the mirror's tiles, and sigstore-python must accept it
against the original log's trusted root, exactly as it accepts the response
of a write.

Usage: python sigstore_verify.py CLIENT_TRUST_CONFIG ENTRY.json...
Prints "verified <index>" per entry; exits non-zero on the first failure.
"""

import json
import sys

from sigstore._internal.trust import KeyringPurpose
from sigstore.models import ClientTrustConfig, TransparencyLogEntry
from sigstore_models.rekor.v1 import TransparencyLogEntry as _TransparencyLogEntry


def main() -> None:
    with open(sys.argv[1]) as f:
        cfg = ClientTrustConfig.from_json(f.read())
    keyring = cfg.trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    for path in sys.argv[2:]:
        with open(path) as f:
            entry = TransparencyLogEntry(_TransparencyLogEntry.from_dict(json.load(f)))
        entry._verify(keyring)
        print("verified", entry._inner.log_index)


if __name__ == "__main__":
    main()
