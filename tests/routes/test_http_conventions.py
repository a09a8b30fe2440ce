"""Auth at the HTTP edge, public paths, CORS, unknown routes and methods, body limits."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

PUBLIC = ["/", "/ok", "/health", "/info"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_paths_need_no_token(anon_http: httpx.Client, path: str) -> None:
    assert anon_http.get(path).status_code == 200


def test_ok_and_info_shapes(anon_http: httpx.Client) -> None:
    assert anon_http.get("/ok").json() == {"ok": True, "services": {}}
    info = anon_http.get("/info").json()
    assert {"version", "langgraph_py_version", "flags", "host", "runtime", "graphs"} <= set(info)
    assert info["runtime"] == "robyn" and "chat" in info["graphs"]


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _bad_tokens(supabase) -> dict[str, str]:
    sub = str(uuid.uuid4())
    return {
        "garbage": "not-a-jwt",
        "expired": supabase.token(sub, exp_in=-3600),
        "alg_none": supabase.token_alg_none(sub),
        "alg_none_by_hand": ".".join(
            [_b64({"alg": "none", "typ": "JWT"}), _b64({"sub": sub, "aud": "authenticated"}), ""]
        ),
        "wrong_aud": supabase.token(sub, aud="anon"),
        "wrong_iss": supabase.token(sub, iss="https://evil.example/auth/v1"),
        "no_sub": supabase.token(None),
        "non_uuid_sub": supabase.token("not-a-uuid"),
        "service_role": supabase.token(None, role="service_role"),
        "unknown_kid": supabase.token_unknown_kid(sub),
        "unpublished_key": supabase.token_unpublished_key(sub),
        "hs256_wrong_secret": supabase.token(sub, alg="HS256", key=b"wrong-secret-wrong-secret-wrong-secret"),
        "hs256_with_public_key": supabase.token_hs256_with_public_key(sub),
        "anonymous_user": supabase.token(sub, extra_claims={"is_anonymous": True}),
        "forged_signature": supabase.token(sub)[:-6] + "AAAAAA",
    }


def test_bad_tokens_are_401_and_server_keeps_serving(base_url: str, supabase, alice) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        missing = client.post("/threads/search", json={})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert isinstance(missing.json()["detail"], str)
        for scheme in ("Basic abc", "Bearer", "Token x"):
            assert client.get("/threads/search", headers={"Authorization": scheme}).status_code in (401, 405)
        for name, token in _bad_tokens(supabase).items():
            response = client.post("/threads/search", json={}, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, name
            assert response.headers["www-authenticate"] == "Bearer", name
        ok = client.post("/threads/search", json={}, headers=alice.headers)
        assert ok.status_code == 200


@pytest.mark.parametrize("alg", ["ES256", "RS256", "HS256"])
def test_every_signing_mode_is_accepted(base_url: str, supabase, alg: str) -> None:
    token = supabase.token(str(uuid.uuid4()), alg=alg)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/threads", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_api_key_only_counts_with_the_langsmith_scheme(base_url: str, alice) -> None:
    from tests.conftest import SERVICE_API_KEY

    with httpx.Client(base_url=base_url, timeout=30) as client:
        # Without x-auth-scheme, x-api-key is ignored: no bearer → 401.
        assert (
            client.post("/threads/search", json={}, headers={"x-api-key": SERVICE_API_KEY}).status_code == 401
        )
        wrong = {"x-auth-scheme": "langsmith", "x-api-key": "wrong"}
        assert client.post("/threads/search", json={}, headers=wrong).status_code == 401
        # A user token plus OAP's env x-api-key still acts as the user.
        both = {**alice.headers, "x-api-key": "whatever"}
        created = client.post("/threads", json={}, headers=both).json()
        assert created["metadata"]["owner"] == alice.user_id


def test_unknown_route_and_wrong_method(http: httpx.Client) -> None:
    assert http.get("/no/such/route").status_code == 404
    assert http.get("/no/such/route").json() == {"detail": "Not Found"}
    wrong = http.put("/threads/search", json={})
    assert wrong.status_code == 405 and wrong.json() == {"detail": "Method Not Allowed"}
    assert http.delete("/ok").status_code == 405


def test_cors_preflight_and_headers(anon_http: httpx.Client, http: httpx.Client) -> None:
    preflight = anon_http.options(
        "/threads/search",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-supabase-access-token,content-type",
        },
    )
    assert preflight.status_code == 200
    allow_headers = preflight.headers["access-control-allow-headers"].lower()
    for name in ("authorization", "x-supabase-access-token", "x-api-key", "x-auth-scheme", "last-event-id"):
        assert name in allow_headers
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-origin"] == "*"
    actual = http.post("/threads/search", json={}, headers={"Origin": "http://localhost:3000"})
    assert actual.headers["access-control-allow-origin"] == "*"
    exposed = actual.headers["access-control-expose-headers"].lower()
    assert "x-pagination-total" in exposed and "content-location" in exposed


def test_oversized_body_is_413(http: httpx.Client) -> None:
    big = b'{"metadata": {"x": "' + b"a" * (11 * 1024 * 1024) + b'"}}'
    assert http.post("/threads", content=big).status_code == 413
    assert http.get("/ok").status_code == 200


def test_malformed_bodies_never_500(http: httpx.Client) -> None:
    cases = [
        ("/threads", b"[]"),
        ("/threads", b"null"),
        ("/threads", b'{"metadata": "x"}'),
        ("/threads", b'{"ttl": {"ttl": -1}}'),
        ("/threads/search", b'{"metadata": 5}'),
        ("/threads/search", b'{"limit": 1e309}'),
        ("/assistants", b'{"graph_id": 5}'),
        ("/assistants", b'{"graph_id": "chat", "assistant_id": 7}'),
        ("/assistants/search", b"\xff\xfe"),
        ("/threads/prune", b'{"thread_ids": "x"}'),
    ]
    for path, body in cases:
        response = http.post(path, content=body)
        assert 400 <= response.status_code < 500, (path, body, response.status_code, response.text)
        assert "detail" in response.json()
