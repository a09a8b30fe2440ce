"""Verification strategies for Supabase access tokens, used by `robyn_server.auth`.

Three strategies, each framework-free:

- `JwksVerifier`: local verification against the project's published JWKS (ES256/RS256 only).
- `SecretVerifier`: local verification with the legacy HS256 JWT secret.
- `RemoteVerifier`: `GET {SUPABASE_URL}/auth/v1/user`, with a short per-token cache.

Verifiers raise `TokenRejected` (the token is not acceptable) or `NoLocalKey` (the JWKS cannot
verify it: empty or unreachable); `Authenticator` maps both to a generic 401. The reasons are for
debug logs only and never reach the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

logger = logging.getLogger(__name__)

AUDIENCE = "authenticated"
JWKS_ALGORITHMS = frozenset({"ES256", "RS256"})
# Roles carried by Supabase API-key JWTs, never by a user's session.
FORBIDDEN_ROLES = frozenset({"anon", "service_role"})
MAX_REMOTE_CACHE_ENTRIES = 10_000

Clock = Callable[[], float]


class TokenRejected(Exception):
    """The token is invalid, expired or not a user token. The message is a log-only reason."""


class NoLocalKey(Exception):
    """The JWKS has no keys (legacy-secret project) or could not be fetched."""


def canonical_uuid(value: Any) -> str | None:
    """Return `value` as a lower-case dashed UUID, or None unless it is exactly such a string."""
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    # uuid.UUID also accepts braces, "urn:uuid:" and dashless hex; Supabase ids never use those.
    return str(parsed) if str(parsed) == value.lower() else None


def user_identity(claims: Mapping[str, Any]) -> str:
    """Check the user-specific claims of a locally verified token and return its identity (`sub`).

    Rejects API-key JWTs (`role` anon/service_role, no `sub`), anonymous sign-ins and non-UUID subjects.
    """
    if claims.get("role") in FORBIDDEN_ROLES:
        raise TokenRejected("API-key role")
    if claims.get("is_anonymous") is True:
        raise TokenRejected("anonymous user")
    identity = canonical_uuid(claims.get("sub"))
    if identity is None:
        raise TokenRejected("missing or invalid sub")
    return identity


def _decode(token: str, key: Any, algorithm: str, *, issuer: str | None, leeway: float) -> dict[str, Any]:
    """Verify signature and standard claims with exactly one allowed algorithm."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"{type(exc).__name__}: {exc}") from None


class HttpClients:
    """One `httpx.AsyncClient` per event loop (or a single caller-supplied client).

    Robyn may dispatch handlers on more than one event loop, and an httpx client's connection pool
    must not be shared across loops.
    """

    def __init__(self, client: httpx.AsyncClient | None, *, timeout: float = 5.0) -> None:
        self._shared = client
        self._timeout = timeout
        self._owned: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._lock = threading.Lock()

    def get(self) -> httpx.AsyncClient:
        """Return the client for the running event loop, creating it on first use."""
        if self._shared is not None:
            return self._shared
        loop = asyncio.get_running_loop()
        with self._lock:
            for dead in [lp for lp in self._owned if lp.is_closed()]:
                del self._owned[dead]
            client = self._owned.get(loop)
            if client is None or client.is_closed:
                client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
                self._owned[loop] = client
            return client

    async def aclose(self) -> None:
        """Close the clients this object created (never a caller-supplied one)."""
        with self._lock:
            owned, self._owned = self._owned, {}
        current = asyncio.get_running_loop()
        for loop, client in owned.items():
            if loop is current:
                await client.aclose()
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)


class SecretVerifier:
    """Verify legacy HS256 tokens with the project's JWT secret."""

    def __init__(self, secret: str, *, issuer: str | None, leeway: float) -> None:
        self._secret = secret.encode()
        self._issuer = issuer
        self._leeway = leeway

    def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims or raise `TokenRejected`."""
        return _decode(token, self._secret, "HS256", issuer=self._issuer, leeway=self._leeway)


class JwksVerifier:
    """Verify ES256/RS256 tokens against a lazily fetched, cached JWKS.

    The JWKS is refreshed after `ttl`. A token with an unknown `kid` triggers one immediate refetch
    (key rotation), at most once per `min_refetch` seconds; a failed fetch is not retried sooner
    than `min_refetch` either, and the last good key set stays in use meanwhile.
    """

    def __init__(
        self,
        url: str,
        *,
        http: HttpClients,
        apikey: str | None,
        issuer: str | None,
        leeway: float,
        ttl: float,
        min_refetch: float,
        clock: Clock,
    ) -> None:
        self._url = url
        self._http = http
        self._headers = {"accept": "application/json", **({"apikey": apikey} if apikey else {})}
        self._issuer = issuer
        self._leeway = leeway
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._forced_at: float | None = None
        self._inflight: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def verify(self, token: str, alg: str, kid: str | None) -> dict[str, Any]:
        """Return the verified claims; raise `TokenRejected`, or `NoLocalKey` if no key set is available."""
        if alg not in JWKS_ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} not allowed for JWKS keys")
        fetched = await self._refresh_if_due()
        key = self._keys.get(kid) if kid else None
        if key is None and kid and not fetched:
            if self._may_force():
                self._forced_at = self._clock()
                await self._fetch()
            else:
                await self._join_inflight()  # a concurrent refetch may bring this very kid
            key = self._keys.get(kid)
        if key is None:
            if not self._keys:
                raise NoLocalKey("JWKS empty or unavailable")
            raise TokenRejected("unknown or missing kid")
        if key.algorithm_name != alg:
            raise TokenRejected("token alg does not match the key")
        return _decode(token, key, alg, issuer=self._issuer, leeway=self._leeway)

    def _backing_off(self, now: float) -> bool:
        return self._failed_at is not None and now - self._failed_at < self._min_refetch

    def _may_force(self) -> bool:
        now = self._clock()
        if self._backing_off(now):
            return False
        return self._forced_at is None or now - self._forced_at >= self._min_refetch

    async def _refresh_if_due(self) -> bool:
        """Fetch when nothing is cached yet or the cache is older than the TTL; True if it fetched."""
        now = self._clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < self._ttl
        if fresh or self._backing_off(now):
            return False
        await self._fetch()
        return True

    async def _fetch(self) -> None:
        # Concurrent callers on one loop share a single request (cold start, rotation).
        loop = asyncio.get_running_loop()
        task = self._inflight.get(loop)
        if task is None or task.done():
            task = loop.create_task(self._download())
            self._inflight[loop] = task
            task.add_done_callback(lambda done: self._forget_task(loop, done))
        await asyncio.shield(task)

    async def _join_inflight(self) -> None:
        task = self._inflight.get(asyncio.get_running_loop())
        if task is not None and not task.done():
            await asyncio.shield(task)

    def _forget_task(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
        if self._inflight.get(loop) is task:
            del self._inflight[loop]

    async def _download(self) -> None:
        try:
            response = await self._http.get().get(self._url, headers=self._headers)
            response.raise_for_status()
            keys = self._parse(response.json())
        except Exception as exc:  # any failure leaves the previous key set in place
            self._failed_at = self._clock()
            logger.warning("JWKS fetch from %s failed: %s", self._url, type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = self._clock()
        self._failed_at = None

    @staticmethod
    def _parse(document: Any) -> dict[str, jwt.PyJWK]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str, jwt.PyJWK] = {}
        for data in document["keys"]:
            if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
                continue
            if data.get("kty") not in ("RSA", "EC") or data.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue
            if key.algorithm_name in JWKS_ALGORITHMS:
                keys[data["kid"]] = key
        return keys


class RemoteVerifier:
    """Ask Supabase Auth (`GET /auth/v1/user`) whether a token is valid.

    Successes are cached by sha256(token) for min(cache_ttl, exp - now): never past the token's `exp`.
    """

    def __init__(
        self,
        url: str,
        *,
        apikey: str,
        http: HttpClients,
        cache_ttl: float,
        leeway: float,
        clock: Clock,
    ) -> None:
        self._url = url
        self._apikey = apikey
        self._http = http
        self._cache_ttl = cache_ttl
        self._leeway = leeway
        self._clock = clock
        self._cache: dict[str, tuple[float, str, dict[str, Any]]] = {}

    async def verify(self, token: str) -> tuple[str, dict[str, Any]]:
        """Return `(identity, user object)` or raise `TokenRejected`."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None:
            if cached[0] > now:
                return cached[1], cached[2]
            self._cache.pop(digest, None)

        exp = self._unverified_exp(token)
        if exp is not None and exp + self._leeway < now:
            raise TokenRejected("expired")  # Supabase would refuse it too; spare the round trip
        try:
            response = await self._http.get().get(
                self._url,
                headers={"apikey": self._apikey, "authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise TokenRejected(f"auth server unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise TokenRejected(f"auth server answered {response.status_code}")
        try:
            user = response.json()
        except ValueError:
            raise TokenRejected("user response is not JSON") from None
        if not isinstance(user, dict):
            raise TokenRejected("user object is not a JSON object")
        identity = canonical_uuid(user.get("id"))
        if identity is None:
            raise TokenRejected("user object without a valid id")
        if user.get("is_anonymous") is True:
            raise TokenRejected("anonymous user")

        if exp is not None:
            until = min(now + self._cache_ttl, exp)
            if until > now:
                self._store(digest, (until, identity, user), now)
        return identity, user

    def clear(self) -> None:
        """Drop all cached results."""
        self._cache.clear()

    def _store(self, digest: str, entry: tuple[float, str, dict[str, Any]], now: float) -> None:
        if len(self._cache) >= MAX_REMOTE_CACHE_ENTRIES:
            for key in [k for k, v in self._cache.items() if v[0] <= now]:
                del self._cache[key]
            while len(self._cache) >= MAX_REMOTE_CACHE_ENTRIES:
                del self._cache[next(iter(self._cache))]  # oldest insertion first
        self._cache[digest] = entry

    @staticmethod
    def _unverified_exp(token: str) -> float | None:
        try:
            payload = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRejected("unparsable token") from None
        exp = payload.get("exp")
        if exp is None:
            return None
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise TokenRejected("non-numeric exp")
        return float(exp)
