"""One RSA key pair for the whole suite (making a 2048-bit key takes a noticeable moment).

``RSA_PRIVATE`` signs (PKCS#8 PEM, what ``client_kwargs={"rsa_key": ...}``
takes) and ``RSA_PUBLIC`` verifies (SubjectPublicKeyInfo PEM, what a
provider registers: ``fake.add_consumer(rsa_public_key=RSA_PUBLIC)``).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["RSA_PRIVATE", "RSA_PUBLIC"]

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode("ascii")
RSA_PUBLIC = (
    _KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode("ascii")
)
