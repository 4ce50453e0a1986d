"""The signer's own output: nonce shape and randomness.

Published test vectors and the cross-checks against other implementations
live in ``test_signing_vectors.py`` and ``test_signing_equivalence.py``.
"""

from __future__ import annotations

import httpx
from oauthlib.oauth1 import RequestValidator

from flask_oauth1_async.signing import Signer, new_nonce


def _sent_nonce() -> str:
    request = Signer("key", "secret").sign(httpx.Request("GET", "https://example.test/"))
    fields = dict(part.split("=", 1) for part in request.headers["Authorization"][len("OAuth ") :].split(", "))
    return fields["oauth_nonce"].strip('"')


def test_nonce_passes_oauthlib_default_check() -> None:
    # oauthlib's RequestValidator, untouched: 20-30 ASCII letters and digits.
    validator = RequestValidator()
    for _ in range(200):
        assert validator.check_nonce(_sent_nonce())


def test_nonce_carries_128_random_bits() -> None:
    nonces = {new_nonce() for _ in range(5000)}
    assert len(nonces) == 5000
    # 26 base32 characters: 5 bits each, the last one carrying 3 (16 bytes = 128 bits).
    assert {len(n) for n in nonces} == {26}
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert set().union(*nonces) == alphabet  # every symbol used: no fixed positions
