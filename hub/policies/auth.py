"""Authentication: who is calling, from the `authorization` credentials of any front end.

`Authenticator.authenticate(authorization)` reads one header value (REST and GraphQL pass the
HTTP header, the gRPC front end the metadata of the same name, WebSocket clients the header or
an `access_token` query parameter) and returns the `Principal`, None when no credentials came,
or raises `Unauthenticated` with a stable reason. Schemes:

- `Bearer <JWT>`: HS256 with the configured secret, or RS256/ES256 with a key of the
  configured JWKS: a URL (PyJWT's `PyJWKClient`: cached, refetched when a token names an
  unknown `kid`, at most once per cooldown) or a file (read again when it changed, or when a
  token names an unknown `kid`); either way a rotated key is picked up without a restart.
  The algorithm decides the key family, so an RS256 public key can never be used as an HS256
  secret; `none` is never accepted. `exp` and `sub` are required, `nbf`, `iss` and `aud`
  checked, with `leeway_seconds` of clock skew. Roles come from the `roles` claim (a list
  of strings).
- `ApiKey <key>`: a service's key, compared by SHA-256 with the hashes in the configuration
  (constant-time); the principal is the key's name with its configured roles.

Verified tokens are remembered (bounded) until they expire, so a client's repeated calls
cost one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt

from hub.config import Authentication
from hub.principal import Principal

_REMEMBERED_TOKENS = 4096
_SECRET_BYTES = 32
SECRET_FILE_NAME = "jwt-secret"  # noqa: S105 (a file name, not a secret)


class Unauthenticated(Exception):
    """Credentials were given but are not good; `reason` is the `ErrorInfo` reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Authenticator:
    """Verifies credentials against the `authentication` settings (see the module docs)."""

    def __init__(self, settings: Authentication, *, secret: bytes | None) -> None:
        """`secret`: the HS256 key (None: HS256 tokens are refused)."""
        self._settings = settings
        self._secret = secret
        self._jwks: _UrlKeys | _FileKeys | None = None
        if settings.jwks_url:
            self._jwks = _UrlKeys(settings.jwks_url, settings)
        elif settings.jwks_file is not None:
            self._jwks = _FileKeys(settings.jwks_file)
        self._api_keys = {
            bytes.fromhex(key.sha256): Principal(key.name, frozenset(key.roles))
            for key in settings.api_keys
        }
        self._tokens: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal of an `authorization` value; None without one."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        match scheme.lower():
            case "bearer" if credentials:
                return await self._token(credentials)
            case "apikey" if credentials:
                return self._api_key(credentials)
            case _:
                raise Unauthenticated(
                    "CREDENTIALS_MALFORMED",
                    "the authorization is not 'Bearer <token>' or 'ApiKey <key>'",
                )

    def _api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).digest()
        for known, principal in self._api_keys.items():
            if hmac.compare_digest(known, digest):
                return principal
        raise Unauthenticated("API_KEY_INVALID", "the API key is not known")

    async def _token(self, token: str) -> Principal:
        remembered = self._tokens.get(token)
        if remembered is not None and remembered[1] > time.time():
            return remembered[0]
        claims = await self._verify(token)
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated("TOKEN_INVALID", "the roles claim is not a list of strings")
        principal = Principal(str(claims["sub"]), frozenset(roles))
        self._remember(token, principal, float(claims["exp"]))
        return principal

    async def _verify(self, token: str) -> dict[str, Any]:
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in settings.algorithms:
                raise Unauthenticated(
                    "TOKEN_INVALID",
                    f"tokens signed with {algorithm!r} are not accepted "
                    f"(accepted: {', '.join(settings.algorithms)})",
                )
            key = await self._key(algorithm, header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("TOKEN_NOT_YET_VALID", "the token is not valid yet") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated("TOKEN_INVALID", f"the token is not valid: {error}") from None
        return claims

    async def _key(self, algorithm: str, kid: object) -> Any:
        if algorithm == "HS256":
            if self._secret is None:
                raise Unauthenticated("TOKEN_INVALID", "HS256 tokens are not accepted here")
            return self._secret
        if self._jwks is None:
            raise Unauthenticated("TOKEN_INVALID", f"{algorithm} tokens are not accepted here")
        if not isinstance(kid, str):
            raise Unauthenticated("TOKEN_INVALID", "the token names no key (kid)")
        try:
            key = await self._jwks.key(kid)
        except (jwt.PyJWKClientConnectionError, OSError, jwt.PyJWKSetError):
            raise Unauthenticated(
                "KEYS_UNAVAILABLE", "the signing keys cannot be fetched now"
            ) from None
        except jwt.PyJWKClientError:
            key = None
        if key is None:
            raise Unauthenticated("TOKEN_INVALID", f"no signing key {kid!r} is known")
        return key

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        self._tokens[token] = (principal, expires)
        if len(self._tokens) > _REMEMBERED_TOKENS:
            self._tokens.popitem(last=False)


class _UrlKeys:
    """The keys of a JWKS URL, through PyJWT's client (cache, refetch on an unknown kid)."""

    def __init__(self, url: str, settings: Authentication) -> None:
        self._client = jwt.PyJWKClient(
            url,
            cache_keys=True,
            lifespan=settings.jwks_cache_seconds,
            cooldown_duration=settings.jwks_refresh_cooldown_seconds,
        )

    async def key(self, kid: str) -> Any:
        # PyJWKClient fetches with urllib: keep the event loop free while it does.
        return (await asyncio.to_thread(self._client.get_signing_key, kid)).key


class _FileKeys:
    """The keys of a JWKS file, read again when it changed or a token names an unknown kid."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, Any] = {}

    async def key(self, kid: str) -> Any:
        stat = self._path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp or kid not in self._keys:
            keys = jwt.PyJWKSet.from_json(self._path.read_text())
            self._keys = {jwk.key_id: jwk.key for jwk in keys.keys if jwk.key_id}
            self._stamp = stamp
        return self._keys.get(kid)


def hs256_secret(settings: Authentication, data_dir: Path) -> bytes:
    """The HS256 key: `jwt_secret`, else the contents of `jwt_secret_file` (default
    `<data_dir>/jwt-secret`), which is made with random bytes, owner-only, if missing."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    path = settings.jwt_secret_file or data_dir / SECRET_FILE_NAME
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(_SECRET_BYTES).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret + b"\n")
    return secret


def mint_token(
    secret: bytes,
    subject: str,
    *,
    roles: Sequence[str] = (),
    issuer: str,
    audience: str,
    ttl_seconds: float,
) -> str:
    """An HS256 token for `subject` (`hub token`: development tokens)."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "roles": list(roles),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
