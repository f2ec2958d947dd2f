"""Token issuing: Ed25519-signed JWTs, and the public key as a JWKS document."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
ISSUER = "toy-platform-auth"
AUDIENCE = "toy-platform"


class TokenIssuer:
    """Signs access tokens with the auth service's private key."""

    def __init__(self, private_key: Ed25519PrivateKey, ttl_s: int) -> None:
        self.private_key = private_key
        self.ttl_s = ttl_s
        public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.kid = hashlib.sha256(public_raw).hexdigest()[:16]

    def issue(self, username: str, role: str) -> str:
        now = int(time.time())
        claims = {
            "sub": username,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}
