"""Tests for `robyn_server.auth`, driven against a Supabase Auth stand-in over real loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from robyn_server.auth import DEV_USER_ID, Authenticator, User, current_user
from robyn_server.errors import Unauthorized
from tests.fakes.supabase_auth import SupabaseAuthStandIn

API_KEY = "service-key-123"


class FakeClock:
    """A settable wall clock for the authenticator's caches."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def supabase() -> Iterator[SupabaseAuthStandIn]:
    """A stand-in publishing RSA and EC keys (shared: tests that mutate it use `fresh_supabase`)."""
    with SupabaseAuthStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def fresh_supabase() -> Iterator[SupabaseAuthStandIn]:
    with SupabaseAuthStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def legacy_supabase() -> Iterator[SupabaseAuthStandIn]:
    """A legacy-secret project: its JWKS is empty."""
    with SupabaseAuthStandIn(publish_keys=False) as stand_in:
        yield stand_in


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_auth(clock: FakeClock) -> AsyncIterator[Callable[..., Authenticator]]:
    """Build authenticators (closed at teardown); unspecified settings default to None."""
    created: list[Authenticator] = []

    def factory(**kwargs: Any) -> Authenticator:
        settings: dict[str, Any] = {
            "supabase_url": None,
            "supabase_key": None,
            "jwt_secret": None,
            "api_key": API_KEY,
            "clock": clock,
            **kwargs,
        }
        auth = Authenticator(**settings)
        created.append(auth)
        return auth

    yield factory
    for auth in created:
        await auth.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def assert_401(auth: Authenticator, headers: dict[str, str]) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(headers)
    assert info.value.status_code == 401
    assert info.value.headers["WWW-Authenticate"] == "Bearer"
    return info.value


# --- dev mode and the User type -------------------------------------------------------------


async def test_dev_mode_returns_dev_user(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth()
    assert not auth.enabled
    assert await auth.authenticate({}) == User(DEV_USER_ID)
    assert await auth.authenticate({"authorization": "Bearer garbage"}) == User(DEV_USER_ID)


def test_user_repr_hides_token_and_current_user_defaults_to_none() -> None:
    assert "secret-token" not in repr(User("u", token="secret-token", claims={"k": "secret-token"}))
    assert current_user.get() is None


# --- local verification ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
async def test_valid_jwks_token(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn, alg: str
) -> None:
    auth = make_auth(supabase_url=fresh_supabase.url, supabase_key=fresh_supabase.anon_key)
    sub = "7b3e8c52-51f0-4c3a-9d7e-0d1f2a3b4c5d"
    token = fresh_supabase.token(sub, alg=alg)
    user = await auth.authenticate(bearer(token))
    assert user == User(sub, token=token, claims=user.claims)
    assert user.claims["sub"] == sub and not user.is_service
    await auth.authenticate({"authorization": f"bEaReR {fresh_supabase.token(alg=alg)}"})
    assert fresh_supabase.jwks_requests == 1  # cached
    assert fresh_supabase.user_requests == 0  # verified locally


async def test_jwks_aud_may_be_a_list(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=supabase.url)
    token = supabase.token("7b3e8c52-51f0-4c3a-9d7e-0d1f2a3b4c5d", aud=["other", "authenticated"])
    assert (await auth.authenticate(bearer(token))).identity == "7b3e8c52-51f0-4c3a-9d7e-0d1f2a3b4c5d"


async def test_hs256_with_secret(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn
) -> None:
    sub = "0b6f6d8e-2a43-4c5e-8f90-123456789abc"
    token = supabase.token(sub, alg="HS256")
    with_url = make_auth(supabase_url=supabase.url, jwt_secret=supabase.jwt_secret)
    secret_only = make_auth(jwt_secret=supabase.jwt_secret)
    assert secret_only.enabled
    for auth in (with_url, secret_only):
        assert (await auth.authenticate(bearer(token))).identity == sub
    assert supabase.user_requests == 0
    await assert_401(with_url, bearer(supabase.token(alg="HS256", iss="https://evil.example/auth/v1")))
    await assert_401(secret_only, bearer(supabase.token(alg="ES256")))  # no JWKS configured


# --- remote check ---------------------------------------------------------------------------


async def test_remote_mode_valid_and_invalid(
    make_auth: Callable[..., Authenticator], legacy_supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=legacy_supabase.url, supabase_key=legacy_supabase.anon_key)
    sub = "2d5c1f0e-7a8b-4c9d-8e1f-a2b3c4d5e6f7"
    token = legacy_supabase.token(sub, alg="HS256")
    user = await auth.authenticate(bearer(token))
    assert user.identity == sub and user.token == token and user.claims["id"] == sub
    assert legacy_supabase.user_requests == 1
    # Asymmetric tokens still verify when the JWKS is empty (remote fallback).
    assert (await auth.authenticate(bearer(legacy_supabase.token(sub, alg="ES256")))).identity == sub

    await assert_401(auth, bearer(legacy_supabase.token(alg="HS256", key=b"x" * 48)))
    await assert_401(auth, bearer(legacy_supabase.token(alg="HS256", exp_in=-3600)))
    await assert_401(auth, bearer(legacy_supabase.token_unpublished_key()))
    await assert_401(auth, bearer(legacy_supabase.token(alg="HS256", extra_claims={"is_anonymous": True})))
    await assert_401(auth, bearer(legacy_supabase.token(None, alg="HS256")))

    wrong_key = make_auth(supabase_url=legacy_supabase.url, supabase_key="not-the-anon-key")
    await assert_401(wrong_key, bearer(legacy_supabase.token(alg="HS256")))


async def test_remote_cache_hit(
    make_auth: Callable[..., Authenticator], legacy_supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=legacy_supabase.url, supabase_key=legacy_supabase.anon_key)
    token = legacy_supabase.token(alg="HS256")
    first = await auth.authenticate(bearer(token))
    second = await auth.authenticate(bearer(token))
    assert first == second
    assert legacy_supabase.user_requests == 1


async def test_remote_cache_never_outlives_exp(
    make_auth: Callable[..., Authenticator], legacy_supabase: SupabaseAuthStandIn, clock: FakeClock
) -> None:
    auth = make_auth(
        supabase_url=legacy_supabase.url, supabase_key=legacy_supabase.anon_key, remote_cache_ttl=60
    )
    short = legacy_supabase.token(alg="HS256", exp_in=10)
    await auth.authenticate(bearer(short))
    clock.advance(5)
    await auth.authenticate(bearer(short))
    assert legacy_supabase.user_requests == 1
    clock.advance(6)  # past exp (10 s) though well within remote_cache_ttl (60 s)
    await auth.authenticate(bearer(short))  # the stand-in's real clock still accepts it
    assert legacy_supabase.user_requests == 2

    long = legacy_supabase.token(alg="HS256", exp_in=3600)
    await auth.authenticate(bearer(long))
    clock.advance(61)  # remote_cache_ttl bounds long-lived tokens
    await auth.authenticate(bearer(long))
    assert legacy_supabase.user_requests == 4


async def test_remote_revoked_user(
    make_auth: Callable[..., Authenticator], legacy_supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=legacy_supabase.url, supabase_key=legacy_supabase.anon_key)
    sub = "9f8e7d6c-5b4a-4392-8170-fedcba987654"
    await auth.authenticate(bearer(legacy_supabase.token(sub, alg="HS256")))
    legacy_supabase.revoke(sub)
    await assert_401(auth, bearer(legacy_supabase.token(sub, alg="HS256")))


# --- JWKS rotation, unknown kids, outages ---------------------------------------------------


async def test_jwks_key_rotation(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn, clock: FakeClock
) -> None:
    auth = make_auth(supabase_url=fresh_supabase.url)
    await auth.authenticate(bearer(fresh_supabase.token(alg="ES256")))
    assert fresh_supabase.jwks_requests == 1
    new_kid = fresh_supabase.rotate("ES256", retire="ec-1")
    user = await auth.authenticate(bearer(fresh_supabase.token(alg="ES256", kid=new_kid)))
    assert user.claims["sub"] == user.identity
    assert fresh_supabase.jwks_requests == 2
    await auth.authenticate(bearer(fresh_supabase.token(alg="ES256", kid=new_kid)))
    assert fresh_supabase.jwks_requests == 2
    # Requests racing the rotation refetch wait for it instead of failing.
    clock.advance(31)  # past the unknown-kid refetch rate limit
    newer_kid = fresh_supabase.rotate("RS256")
    tokens = [fresh_supabase.token(alg="RS256", kid=newer_kid) for _ in range(5)]
    await asyncio.gather(*(auth.authenticate(bearer(t)) for t in tokens))
    assert fresh_supabase.jwks_requests == 3


async def test_unknown_kid_is_rejected_and_refetch_rate_limited(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn, clock: FakeClock
) -> None:
    auth = make_auth(supabase_url=fresh_supabase.url, supabase_key=fresh_supabase.anon_key)
    await auth.authenticate(bearer(fresh_supabase.token()))
    await assert_401(auth, bearer(fresh_supabase.token_unknown_kid()))
    assert fresh_supabase.jwks_requests == 2  # one refetch
    for _ in range(3):
        await assert_401(auth, bearer(fresh_supabase.token_unknown_kid(alg="RS256")))
    assert fresh_supabase.jwks_requests == 2  # rate-limited
    clock.advance(31)
    await assert_401(auth, bearer(fresh_supabase.token_unknown_kid()))
    assert fresh_supabase.jwks_requests == 3
    assert fresh_supabase.user_requests == 0  # never handed to the remote check


async def test_cold_start_fetches_jwks_once(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=fresh_supabase.url)
    tokens = [fresh_supabase.token(alg=alg) for alg in ("ES256", "RS256") * 5]
    users = await asyncio.gather(*(auth.authenticate(bearer(t)) for t in tokens))
    assert len({u.identity for u in users}) == 10
    assert fresh_supabase.jwks_requests == 1


async def test_jwks_endpoint_down(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn, clock: FakeClock
) -> None:
    auth = make_auth(supabase_url=fresh_supabase.url)
    fresh_supabase.jwks_status = 500
    await assert_401(auth, bearer(fresh_supabase.token()))
    fresh_supabase.jwks_status = 200
    await assert_401(auth, bearer(fresh_supabase.token()))  # backing off, no retry yet
    assert fresh_supabase.jwks_requests == 1
    clock.advance(31)
    await auth.authenticate(bearer(fresh_supabase.token()))
    # Once loaded, an outage during refresh keeps the last good keys.
    fresh_supabase.jwks_status = 500
    clock.advance(601)
    await auth.authenticate(bearer(fresh_supabase.token()))
    assert fresh_supabase.jwks_requests == 3


async def test_auth_server_unreachable(make_auth: Callable[..., Authenticator]) -> None:
    stand_in = SupabaseAuthStandIn().start()
    url, anon, token = stand_in.url, stand_in.anon_key, stand_in.token()
    stand_in.stop()
    for auth in (make_auth(supabase_url=url), make_auth(supabase_url=url, supabase_key=anon)):
        await assert_401(auth, bearer(token))


# --- rejected credentials -------------------------------------------------------------------

TokenFactory = Callable[[SupabaseAuthStandIn], str]

BAD_TOKENS: dict[str, TokenFactory] = {
    "garbage": lambda s: "not-a-jwt",
    "garbage-base64": lambda s: "e30.!!!!.@@@@",
    "header-not-json": lambda s: "bm90IGpzb24.e30.c2ln",
    "alg-list": lambda s: "eyJhbGciOlsiRVMyNTYiXX0.e30.c2ln",
    "expired": lambda s: s.token(exp_in=-120),
    "not-yet-valid": lambda s: s.token(extra_claims={"nbf": int(time.time()) + 3600}),
    "wrong-signature": lambda s: s.token_unpublished_key(),
    "wrong-signature-rsa": lambda s: s.token_unpublished_key(alg="RS256"),
    "alg-none": lambda s: s.token_alg_none(),
    "hs256-public-key": lambda s: s.token_hs256_with_public_key(),
    "hs256-wrong-secret": lambda s: s.token(alg="HS256", key=b"y" * 48),
    "hs384": lambda s: s.token(alg="HS384", key=s.jwt_secret),
    "wrong-aud": lambda s: s.token(aud="anon"),
    "no-aud": lambda s: s.token(aud=None),
    "wrong-iss": lambda s: s.token(iss="https://other.supabase.co/auth/v1"),
    "no-sub": lambda s: s.token(None),
    "non-uuid-sub": lambda s: s.token("not-a-uuid"),
    "dashless-sub": lambda s: s.token("7b3e8c5251f04c3a9d7e0d1f2a3b4c5d"),
    "anon-role": lambda s: s.token(None, role="anon", iss="supabase"),
    "anon-role-with-sub": lambda s: s.token(role="anon"),
    "service-role": lambda s: s.token(role="service_role"),
    "anonymous-user": lambda s: s.token(extra_claims={"is_anonymous": True}),
    "anonymous-user-hs256": lambda s: s.token(alg="HS256", extra_claims={"is_anonymous": True}),
    "no-kid": lambda s: s.token(extra_headers={"kid": None}),
    "too-long": lambda s: s.token(extra_claims={"pad": "x" * 20_000}),
}


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
async def test_bad_token_is_401(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn, name: str
) -> None:
    token = BAD_TOKENS[name](supabase)
    local = make_auth(supabase_url=supabase.url, jwt_secret=supabase.jwt_secret)
    jwks_only = make_auth(supabase_url=supabase.url)
    with_remote = make_auth(supabase_url=supabase.url, supabase_key=supabase.anon_key)
    for auth in (local, jwks_only, with_remote):
        error = await assert_401(auth, bearer(token))
        assert error.detail == "Invalid or expired token"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Token abc"},
        {"authorization": "Bearer a b"},
        {"x-api-key": API_KEY},  # ignored without x-auth-scheme
    ],
    ids=["none", "empty", "bearer-only", "bearer-space", "basic", "token", "extra-part", "api-key-only"],
)
async def test_missing_or_malformed_header_is_401(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn, headers: dict[str, str]
) -> None:
    auth = make_auth(supabase_url=supabase.url, supabase_key=supabase.anon_key)
    error = await assert_401(auth, headers)
    assert error.detail == "Missing authentication credentials"


# --- service identity -----------------------------------------------------------------------


async def test_service_identity(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=supabase.url)
    for scheme in ("langsmith", "LangSmith"):
        user = await auth.authenticate({"x-auth-scheme": scheme, "x-api-key": API_KEY})
        assert user == User("service", is_service=True)
    await assert_401(auth, {"x-auth-scheme": "langsmith", "x-api-key": "wrong"})
    await assert_401(auth, {"x-auth-scheme": "langsmith", "x-api-key": "ünïcode"})
    # The scheme header means "service": a valid bearer does not rescue a missing key.
    await assert_401(auth, {"x-auth-scheme": "langsmith", **bearer(supabase.token())})
    no_key = make_auth(supabase_url=supabase.url, api_key=None)
    await assert_401(no_key, {"x-auth-scheme": "langsmith", "x-api-key": API_KEY})
    await assert_401(no_key, {"x-auth-scheme": "langsmith", "x-api-key": ""})


async def test_api_key_without_scheme_is_ignored(
    make_auth: Callable[..., Authenticator], supabase: SupabaseAuthStandIn
) -> None:
    auth = make_auth(supabase_url=supabase.url)
    sub = "3c2b1a09-8f7e-4d6c-9b5a-493827160504"
    user = await auth.authenticate({"x-api-key": API_KEY, **bearer(supabase.token(sub))})
    assert user.identity == sub and not user.is_service
    await assert_401(auth, {"x-api-key": API_KEY, **bearer("garbage")})
    await assert_401(auth, {"x-auth-scheme": "other", "x-api-key": API_KEY})


async def test_shared_across_event_loops(
    make_auth: Callable[..., Authenticator], fresh_supabase: SupabaseAuthStandIn
) -> None:
    """Robyn may run handlers on several loops; one Authenticator must serve them all."""
    auth = make_auth(supabase_url=fresh_supabase.url, supabase_key=fresh_supabase.anon_key)
    tokens = [fresh_supabase.token(alg="HS256") for _ in range(3)]

    async def identify(token: str) -> str:
        return (await auth.authenticate(bearer(token))).identity

    identities = await asyncio.gather(
        *(asyncio.to_thread(asyncio.run, identify(t)) for t in tokens),
        identify(fresh_supabase.token(alg="RS256")),
    )
    assert len(set(identities)) == 4
    assert fresh_supabase.user_requests == 3 and fresh_supabase.jwks_requests == 1
