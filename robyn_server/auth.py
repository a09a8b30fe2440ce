"""Framework-free authentication: who is calling?

`Authenticator.authenticate(headers)` turns request headers into a `User` or raises
`errors.Unauthorized`. The app's middleware stores the result in `current_user`.

Decision order:

1. Auth disabled (neither SUPABASE_URL nor a JWT secret configured): the fixed dev user.
2. `x-auth-scheme: langsmith`: the service identity, if `x-api-key` matches the configured key.
   Without that header `x-api-key` is ignored.
3. `Authorization: Bearer <Supabase access token>`, verified by one of the strategies in
   `robyn_server.auth_verifiers` (JWKS, legacy HS256 secret, or the remote `/auth/v1/user` check),
   chosen from the configuration and the token header.

This module must not import robyn.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx
import jwt

from robyn_server.auth_verifiers import (
    Clock,
    HttpClients,
    JwksVerifier,
    NoLocalKey,
    RemoteVerifier,
    SecretVerifier,
    TokenRejected,
    user_identity,
)
from robyn_server.errors import Unauthorized

logger = logging.getLogger(__name__)

DEV_USER_ID = "00000000-0000-4000-8000-000000000000"
SERVICE_IDENTITY = "service"

MISSING_CREDENTIALS = "Missing authentication credentials"
INVALID_TOKEN = "Invalid or expired token"
INVALID_API_KEY = "Invalid API key"
# Supabase access tokens are ~1 KB; refuse absurd sizes before any parsing.
MAX_TOKEN_LENGTH = 16_384


@dataclass(frozen=True)
class User:
    """The authenticated caller.

    Attributes:
        identity: the Supabase user id (`sub`), `"service"` for the API-key identity, or `DEV_USER_ID`.
        is_service: True for the `x-auth-scheme: langsmith` + `x-api-key` identity, which sees everything.
        token: the raw bearer token, so runs can forward it (never shown in `repr`).
        claims: verified token claims, or the Supabase user object for remote-checked tokens.
    """

    identity: str
    is_service: bool = False
    token: str | None = field(default=None, repr=False)
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


current_user: ContextVar[User | None] = ContextVar("current_user", default=None)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Read a header by its lower-case name, tolerating a mapping that kept the original case."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if isinstance(key, str) and key.lower() == name:
                value = candidate
                break
    return value if isinstance(value, str) else None


def _bearer_token(authorization: str | None) -> str:
    """Extract the token from `Bearer <token>` (scheme case-insensitive) or raise 401."""
    if not authorization:
        raise Unauthorized(MISSING_CREDENTIALS)
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthorized(MISSING_CREDENTIALS)
    return parts[1]


class Authenticator:
    """Authenticate requests against Supabase Auth, a legacy JWT secret, or a service API key.

    Args:
        supabase_url: project URL (`https://<ref>.supabase.co`); enables JWKS verification, the `iss`
            check and, with `supabase_key`, the remote `/auth/v1/user` check.
        supabase_key: the anon/publishable (or secret) API key, sent as `apikey` to Supabase.
        jwt_secret: the legacy HS256 JWT secret, for local verification of HS256 tokens.
        api_key: the key accepted with `x-auth-scheme: langsmith`; None disables service access.
        http: an httpx client to use (not closed by `aclose`); by default one is created per event loop.
        jwks_ttl: seconds a fetched JWKS is trusted before refetching.
        remote_cache_ttl: upper bound, in seconds, for caching a successful remote check.
        leeway: clock-skew allowance, in seconds, for `exp`/`nbf`/`iat`.
        jwks_min_refetch: minimum seconds between unknown-`kid` refetches and between failed fetches.
        clock: wall-clock source (seconds since the epoch) for the caches; injectable for tests.
    """

    def __init__(
        self,
        *,
        supabase_url: str | None,
        supabase_key: str | None,
        jwt_secret: str | None,
        api_key: str | None,
        http: httpx.AsyncClient | None = None,
        jwks_ttl: float = 600.0,
        remote_cache_ttl: float = 60.0,
        leeway: float = 30.0,
        jwks_min_refetch: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        base = supabase_url.rstrip("/") if supabase_url else None
        issuer = f"{base}/auth/v1" if base else None
        self._api_key = api_key or None
        self._http = HttpClients(http, timeout=5.0)
        self._secret = SecretVerifier(jwt_secret, issuer=issuer, leeway=leeway) if jwt_secret else None
        self._jwks = (
            JwksVerifier(
                f"{issuer}/.well-known/jwks.json",
                http=self._http,
                apikey=supabase_key or None,
                issuer=issuer,
                leeway=leeway,
                ttl=jwks_ttl,
                min_refetch=jwks_min_refetch,
                clock=clock,
            )
            if issuer
            else None
        )
        self._remote = (
            RemoteVerifier(
                f"{issuer}/user",
                apikey=supabase_key,
                http=self._http,
                cache_ttl=remote_cache_ttl,
                leeway=leeway,
                clock=clock,
            )
            if issuer and supabase_key
            else None
        )

    @property
    def enabled(self) -> bool:
        """False in dev mode: neither a Supabase URL nor a JWT secret is configured."""
        return self._jwks is not None or self._secret is not None

    async def authenticate(self, headers: Mapping[str, str]) -> User:
        """Return the caller for these request headers (lower-case names).

        Raises:
            Unauthorized: for missing or invalid credentials; no other exception escapes.
        """
        if not self.enabled:
            return User(DEV_USER_ID)
        try:
            scheme = _header(headers, "x-auth-scheme")
            if scheme is not None and scheme.strip().lower() == "langsmith":
                return self._service(_header(headers, "x-api-key"))
            return await self._bearer(_bearer_token(_header(headers, "authorization")))
        except Unauthorized:
            raise
        except (TokenRejected, NoLocalKey) as exc:
            logger.debug("token rejected: %s", exc)
        except Exception:
            logger.warning("unexpected error while authenticating; answering 401", exc_info=True)
        raise Unauthorized(INVALID_TOKEN)

    async def aclose(self) -> None:
        """Release HTTP clients created by this authenticator and drop cached results."""
        if self._remote is not None:
            self._remote.clear()
        await self._http.aclose()

    def _service(self, supplied: str | None) -> User:
        if not supplied:
            raise Unauthorized(MISSING_CREDENTIALS)
        if self._api_key is None or not hmac.compare_digest(supplied.encode(), self._api_key.encode()):
            raise Unauthorized(INVALID_API_KEY)
        return User(SERVICE_IDENTITY, is_service=True)

    async def _bearer(self, token: str) -> User:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenRejected("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("unparsable token header") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or not (kid is None or isinstance(kid, str)):
            raise TokenRejected("malformed token header")

        if alg == "HS256":
            if self._secret is not None:
                claims = self._secret.verify(token)
            elif self._remote is not None:
                return await self._remote_user(self._remote, token)
            else:
                raise TokenRejected("HS256 token but no JWT secret or remote check configured")
        elif self._jwks is not None:
            # JwksVerifier refuses everything but ES256/RS256 (`none`, HS*, ...).
            try:
                claims = await self._jwks.verify(token, alg, kid)
            except NoLocalKey:
                if self._remote is None:
                    raise
                return await self._remote_user(self._remote, token)
        else:
            raise TokenRejected(f"no verifier for algorithm {alg!r}")

        return User(user_identity(claims), token=token, claims=MappingProxyType(claims))

    @staticmethod
    async def _remote_user(remote: RemoteVerifier, token: str) -> User:
        identity, user = await remote.verify(token)
        return User(identity, token=token, claims=MappingProxyType(user))
