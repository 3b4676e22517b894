"""`Authenticator` on real tokens and keys: what it accepts (HS256 with the secret, RS256 and
ES256 from a JWKS file or URL, API keys by hash) and the table of what it refuses, each with
its reason; a rotated JWKS key is picked up when a token names it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from hub.config import ApiKey, Authentication
from hub.policies.auth import Authenticator, Unauthenticated, hs256_secret
from hub.principal import Principal
from tests.policies.tokens import (
    SECRET,
    KeyPair,
    claims,
    ec_key,
    hs256,
    rsa_key,
    signed,
    write_jwks,
)

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")
SERVICE_KEY = "k-0123456789abcdef"


def authenticator(jwks: Path | str | None = None, **settings: Any) -> Authenticator:
    return Authenticator(
        Authentication(
            jwks_url=jwks if isinstance(jwks, str) else None,
            jwks_file=jwks if isinstance(jwks, Path) else None,
            jwks_refresh_cooldown_seconds=0,
            api_keys=[
                ApiKey(
                    name="billing",
                    sha256=hashlib.sha256(SERVICE_KEY.encode()).hexdigest(),
                    roles=["service"],
                )
            ],
            **settings,
        ),
        secret=SECRET,
    )


@pytest.fixture
def jwks(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, RSA, EC)
    return path


async def reason(subject: Authenticator, authorization: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        await subject.authenticate(authorization)
    return refused.value.reason


@pytest.mark.parametrize(
    "token",
    [hs256(), signed(RSA), signed(EC)],
    ids=["HS256", "RS256 from JWKS", "ES256 from JWKS"],
)
async def test_a_good_token_gives_its_subject_and_roles(jwks: Path, token: str) -> None:
    principal = await authenticator(jwks).authenticate(f"Bearer {token}")

    assert Principal("u1", frozenset({"admin"})) == principal


async def test_no_credentials_is_anonymous(jwks: Path) -> None:
    assert None is await authenticator(jwks).authenticate(None)
    assert None is await authenticator(jwks).authenticate("")


async def test_an_api_key_gives_its_service_principal() -> None:
    principal = await authenticator().authenticate(f"ApiKey {SERVICE_KEY}")

    assert Principal("billing", frozenset({"service"})) == principal
    assert "API_KEY_INVALID" == await reason(authenticator(), "ApiKey not-the-key")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(payload: dict[str, Any]) -> str:
    header = json.dumps({"alg": "none", "typ": "JWT"}).encode()
    return f"{_b64(header)}.{_b64(json.dumps(payload).encode())}."


UNKNOWN = rsa_key("rsa-unknown")


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (f"Bearer {hs256(exp=1_000_000)}", "TOKEN_EXPIRED"),
        (f"Bearer {hs256(nbf=4_000_000_000)}", "TOKEN_NOT_YET_VALID"),
        (f"Bearer {hs256(iss='someone-else')}", "TOKEN_INVALID"),
        (f"Bearer {hs256(aud='another-api')}", "TOKEN_INVALID"),
        (f"Bearer {jwt.encode({'sub': 'u1'}, SECRET, algorithm='HS256')}", "TOKEN_INVALID"),
        (f"Bearer {jwt.encode(claims(), b'x' * 32, algorithm='HS256')}", "TOKEN_INVALID"),
        (f"Bearer {signed(UNKNOWN)}", "TOKEN_INVALID"),
        (f"Bearer {signed(RSA)[:-4]}AAAA", "TOKEN_INVALID"),
        (f"Bearer {_unsigned({'sub': 'u1', 'exp': 4_000_000_000})}", "TOKEN_INVALID"),
        (f"Bearer {hs256(roles='admin')}", "TOKEN_INVALID"),
        ("Bearer not.a.jwt", "TOKEN_INVALID"),
        ("Bearer", "CREDENTIALS_MALFORMED"),
        ("Basic dTE6cGFzcw==", "CREDENTIALS_MALFORMED"),
        ("eyJhbGciOiJIUzI1NiJ9", "CREDENTIALS_MALFORMED"),
    ],
    ids=[
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "no exp",
        "bad signature",
        "unknown kid",
        "tampered RS256",
        "alg none",
        "roles not a list",
        "not a JWT",
        "no token",
        "other scheme",
        "no scheme",
    ],
)
async def test_bad_credentials_are_refused_with_their_reason(
    jwks: Path, authorization: str, expected: str
) -> None:
    assert expected == await reason(authenticator(jwks), authorization)


async def test_an_rs256_public_key_used_as_an_hs256_secret_is_refused(jwks: Path) -> None:
    """Algorithm confusion: the HS256 key is the configured secret, never a JWKS key."""
    public_pem = RSA.private.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    # PyJWT refuses to sign with a PEM as an HMAC key; an attacker's library would not.
    header = {"alg": "HS256", "typ": "JWT", "kid": RSA.kid}
    encoded = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims()))
    signature = hmac.new(public_pem, encoded.encode(), hashlib.sha256).digest()
    forged = f"{encoded}.{_b64(signature)}"

    assert "TOKEN_INVALID" == await reason(authenticator(jwks), f"Bearer {forged}")


async def test_clock_skew_within_the_leeway_is_allowed(jwks: Path) -> None:
    token = hs256(exp=int(time.time()) - 10)

    principal = await authenticator(jwks, leeway_seconds=30).authenticate(f"Bearer {token}")

    assert principal is not None


async def test_a_rotated_key_is_accepted_once_the_jwks_names_it(jwks: Path) -> None:
    subject = authenticator(jwks)
    assert await subject.authenticate(f"Bearer {signed(RSA)}") is not None
    rotated = rsa_key("rsa-2")
    write_jwks(jwks, rotated, EC)

    principal = await subject.authenticate(f"Bearer {signed(rotated)}")

    assert principal is not None
    assert "TOKEN_INVALID" == await reason(subject, f"Bearer {signed(rsa_key('rsa-3'))}")


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, list[KeyPair]]]:
    """A real HTTP server answering GET /jwks.json with the public keys of `keys`."""
    keys = [RSA]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"keys": [key.public_jwk() for key in keys]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", keys
    finally:
        server.shutdown()
        server.server_close()


async def test_keys_come_from_a_jwks_url_and_rotate(
    jwks_server: tuple[str, list[KeyPair]],
) -> None:
    url, keys = jwks_server
    subject = authenticator(url)
    assert await subject.authenticate(f"Bearer {signed(RSA)}") is not None
    rotated = ec_key("ec-2")
    keys.append(rotated)

    assert await subject.authenticate(f"Bearer {signed(rotated)}") is not None


async def test_an_unreachable_jwks_is_reported_as_such() -> None:
    subject = authenticator("http://127.0.0.1:9/jwks.json")

    assert "KEYS_UNAVAILABLE" == await reason(subject, f"Bearer {signed(RSA)}")


def test_the_hs256_key_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    first = hs256_secret(Authentication(), tmp_path)
    second = hs256_secret(Authentication(), tmp_path)

    assert first == second
    assert 64 == len(first)
    assert 0o600 == (tmp_path / "jwt-secret").stat().st_mode & 0o777
