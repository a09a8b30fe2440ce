"""A Supabase Auth stand-in for tests: a real HTTP server on 127.0.0.1.

It serves the two endpoints the server talks to:

- `GET /auth/v1/.well-known/jwks.json`: the public JWKs it currently publishes (none for a
  legacy-secret project); `jwks_status` simulates an outage.
- `GET /auth/v1/user`: the user object when the bearer token verifies against any key it knows
  (RSA/EC signing keys or the legacy HS256 secret) and `apikey` is its anon key; otherwise
  Supabase's error body `{"code", "error_code", "msg"}`.

It also mints tokens (`token()`) and the malformed or forged tokens tests need.

    with SupabaseAuthStandIn() as supabase:
        token = supabase.token(alg="RS256")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

_NEW_UUID: Any = object()  # sentinel: "generate a fresh uuid4 subject"
_DEFAULT_KID = {"ES256": "ec-1", "RS256": "rsa-1"}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_private_key(alg: str) -> PrivateKey:
    """A fresh signing key for ES256 (P-256) or RS256 (RSA 2048)."""
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported alg {alg}")


@dataclass
class SigningKey:
    """A key pair the stand-in knows, and whether its public half is published."""

    kid: str
    alg: str
    private: PrivateKey
    published: bool = True

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as Supabase publishes it."""
        algorithm = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        jwk: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"]}


class SupabaseAuthStandIn:
    """Plays Supabase Auth at the wire. Thread-safe; counters are `jwks_requests`/`user_requests`.

    Args:
        publish_keys: False models a legacy-secret project: the JWKS is empty.
    """

    def __init__(self, publish_keys: bool = True) -> None:
        self.publish_keys = publish_keys
        self.anon_key = "anon-" + secrets.token_urlsafe(24)
        self.jwt_secret = secrets.token_urlsafe(48)
        self.jwks_status = 200
        self.jwks_requests = 0
        self.user_requests = 0
        self.revoked: set[str] = set()
        self._keys: dict[str, SigningKey] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_key("RS256", kid="rsa-1")
        self.add_key("ES256", kid="ec-1")

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SupabaseAuthStandIn:
        """Listen on a free loopback port in a daemon thread."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SupabaseAuthStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The project URL, e.g. `http://127.0.0.1:PORT` (the server must be started)."""
        if self._server is None:
            raise RuntimeError("stand-in not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        """The `iss` of the tokens this project issues."""
        return f"{self.url}/auth/v1"

    # --- keys ------------------------------------------------------------------------------

    def add_key(self, alg: str = "ES256", *, kid: str | None = None, publish: bool = True) -> str:
        """Generate and remember a signing key; return its kid."""
        kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
        with self._lock:
            self._keys[kid] = SigningKey(kid, alg, new_private_key(alg), publish)
        return kid

    def rotate(self, alg: str = "ES256", *, retire: str | None = None) -> str:
        """Publish a new key (and optionally forget `retire`); return the new kid."""
        kid = self.add_key(alg)
        if retire is not None:
            self.remove_key(retire)
        return kid

    def remove_key(self, kid: str) -> None:
        """Forget a key: no longer published, and its tokens no longer verify."""
        with self._lock:
            self._keys.pop(kid, None)

    def key(self, kid: str) -> SigningKey:
        """The key with this kid."""
        with self._lock:
            return self._keys[kid]

    def jwks(self) -> dict[str, Any]:
        """The JWKS document as currently served."""
        with self._lock:
            keys = [k.public_jwk() for k in self._keys.values() if k.published]
        return {"keys": keys if self.publish_keys else []}

    def revoke(self, user_id: str) -> None:
        """Make `/auth/v1/user` answer 403 `session_not_found` for this user."""
        with self._lock:
            self.revoked.add(user_id)

    # --- tokens ----------------------------------------------------------------------------

    def claims(
        self,
        sub: str | None = _NEW_UUID,
        *,
        exp_in: int = 3600,
        aud: str | list[str] | None = "authenticated",
        iss: str | None = None,
        role: str | None = "authenticated",
        extra_claims: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """User-token claims as Supabase issues them. None for sub/aud/role omits that claim."""
        now = int(time.time())
        sub = str(uuid.uuid4()) if sub is _NEW_UUID else sub
        claims: dict[str, Any] = {
            "iss": iss if iss is not None else self.issuer,
            "aud": aud,
            "exp": now + exp_in,
            "iat": now,
            "sub": sub,
            "email": f"user-{secrets.token_hex(3)}@example.test",
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "role": role,
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return {**claims, **(extra_claims or {})}

    def token(
        self,
        sub: str | None = _NEW_UUID,
        *,
        alg: str = "ES256",
        kid: str | None = None,
        exp_in: int = 3600,
        aud: str | list[str] | None = "authenticated",
        iss: str | None = None,
        role: str | None = "authenticated",
        extra_claims: dict[str, Any] | None = None,
        extra_headers: dict[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        """A signed access token. HS* tokens use `jwt_secret` and have no kid unless one is given.

        `key` overrides the signing key (a private key, or secret bytes for HS256).
        """
        payload = self.claims(sub, exp_in=exp_in, aud=aud, iss=iss, role=role, extra_claims=extra_claims)
        if alg.startswith("HS"):
            signing_key = key if key is not None else self.jwt_secret
        else:
            kid = kid or _DEFAULT_KID[alg]
            signing_key = key if key is not None else self.key(kid).private
        # extra_headers win; a None value removes that header (e.g. {"kid": None}).
        headers = {k: v for k, v in {"kid": kid, **(extra_headers or {})}.items() if v is not None}
        return jwt.encode(payload, signing_key, algorithm=alg, headers=headers)

    def token_alg_none(self, sub: str | None = _NEW_UUID, **claim_args: Any) -> str:
        """An unsigned `alg: none` token with otherwise valid claims."""
        header = {"alg": "none", "typ": "JWT"}
        payload = self.claims(sub, **claim_args)
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}."

    def token_hs256_with_public_key(
        self, sub: str | None = _NEW_UUID, *, kid: str = "rsa-1", **claim_args: Any
    ) -> str:
        """The algorithm-confusion forgery: HS256 keyed with the published public key's PEM."""
        pem = (
            self.key(kid)
            .private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": kid}
        payload = self.claims(sub, **claim_args)
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(signature)}"

    def token_unpublished_key(self, sub: str | None = _NEW_UUID, *, alg: str = "ES256", **kwargs: Any) -> str:
        """Signed with a key nobody knows, but carrying a published kid."""
        return self.token(sub, alg=alg, kid=_DEFAULT_KID[alg], key=new_private_key(alg), **kwargs)

    def token_unknown_kid(self, sub: str | None = _NEW_UUID, *, alg: str = "ES256", **kwargs: Any) -> str:
        """Signed with a fresh key under a kid that is not (and never was) published."""
        kid = f"unknown-{secrets.token_hex(4)}"
        return self.token(sub, alg=alg, kid=kid, key=new_private_key(alg), **kwargs)

    # --- /auth/v1/user ---------------------------------------------------------------------

    def _verify(self, token: str) -> dict[str, Any]:
        """Verify like GoTrue: signature against any known key, plus exp. Raises jwt.PyJWTError."""
        alg = jwt.get_unverified_header(token).get("alg")
        options = {"verify_aud": False, "require": ["exp"]}
        if alg == "HS256":
            return jwt.decode(token, self.jwt_secret, algorithms=["HS256"], options=options)
        with self._lock:
            candidates = [k for k in self._keys.values() if k.alg == alg]
        for candidate in candidates:
            try:
                return jwt.decode(token, candidate.private.public_key(), algorithms=[alg], options=options)
            except jwt.InvalidSignatureError:
                continue
        raise jwt.InvalidSignatureError("no known key verifies the signature")

    def user_response(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The (status, body) GoTrue would answer for these request headers."""
        with self._lock:
            self.user_requests += 1
        if headers.get("apikey") != self.anon_key:
            return 401, {"message": "Invalid API key", "hint": "Double check your Supabase `anon` key."}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, _error(401, "no_authorization", "This endpoint requires a Bearer token")
        try:
            claims = self._verify(token.strip())
        except (jwt.PyJWTError, ValueError) as exc:
            return 403, _error(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}")
        sub = claims.get("sub")
        if not sub:
            return 403, _error(403, "bad_jwt", "invalid claim: missing sub claim")
        try:
            uuid.UUID(str(sub))
        except ValueError:
            return 400, _error(400, "bad_jwt", "invalid claim: sub claim must be a UUID")
        if sub in self.revoked:
            return 403, _error(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return 200, {
            "id": sub,
            "aud": "authenticated",
            "role": claims.get("role", "authenticated"),
            "email": claims.get("email", ""),
            "phone": "",
            "app_metadata": {},
            "user_metadata": {},
            "identities": [],
            "created_at": now,
            "updated_at": now,
            "is_anonymous": bool(claims.get("is_anonymous", False)),
        }


def _error(status: int, error_code: str, msg: str) -> dict[str, Any]:
    return {"code": status, "error_code": error_code, "msg": msg}


def _handler_for(stand_in: SupabaseAuthStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/auth/v1/.well-known/jwks.json":
                with stand_in._lock:
                    stand_in.jwks_requests += 1
                if stand_in.jwks_status != 200:
                    self._send(stand_in.jwks_status, {"message": "unavailable"})
                else:
                    self._send(200, stand_in.jwks())
            elif path == "/auth/v1/user":
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(*stand_in.user_response(headers))
            else:
                self._send(404, {"message": "no Route matched with those values"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
