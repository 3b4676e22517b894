"""Keys and tokens for the authentication tests: an HS256 secret, RSA and EC key pairs, a
JWKS document of public keys, and a token builder that can get anything wrong on purpose."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = b"test-secret-of-32-bytes-or-more-0123456789"
ISSUER = "hub"
AUDIENCE = "hub"


@dataclass(frozen=True)
class KeyPair:
    kid: str
    algorithm: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def rsa_key(kid: str) -> KeyPair:
    return KeyPair(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> KeyPair:
    return KeyPair(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def write_jwks(path: Path, *keys: KeyPair) -> None:
    path.write_text(json.dumps({"keys": [key.public_jwk() for key in keys]}))


def claims(subject: str = "u1", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": subject,
        "roles": ["admin"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **overrides,
    }


def hs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def signed(key: KeyPair, **overrides: Any) -> str:
    return jwt.encode(
        claims(**overrides), key.private, algorithm=key.algorithm, headers={"kid": key.kid}
    )
