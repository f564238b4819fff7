"""Short-lived tokens core signs for the other services (committee, biometrics) and itself.

Compact form: base64url(JSON claims) "." base64url(HMAC-SHA256). Claims: `sub` (who the
token speaks for), `aud` (the service that must accept it), `scope`, `exp`, `jti` (unique id,
for revocation). The key is derived from the server secret per purpose, so a token made for
one audience cannot be replayed at another.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from .errors import Unauthenticated

MAX_LIFETIME = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ServiceTokens:
    secret_key: bytes

    def _key(self, audience: str) -> bytes:
        return hmac.new(self.secret_key, f"service-token:{audience}".encode(), hashlib.sha256).digest()

    def issue(self, *, subject: str, audience: str, scope: str, lifetime: int = 300, **claims: Any) -> str:
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"token lifetime must be 1..{MAX_LIFETIME} seconds")
        body = {"sub": subject, "aud": audience, "scope": scope, "exp": int(time.time()) + lifetime,
                "jti": secrets.token_urlsafe(12), **claims}
        encoded = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        signature = _b64(hmac.new(self._key(audience), encoded.encode(), hashlib.sha256).digest())
        return f"{encoded}.{signature}"

    def verify(self, token: str, *, audience: str, scope: str) -> dict[str, Any]:
        """The token's claims, or Unauthenticated when it is malformed, forged, expired or misaimed."""
        try:
            encoded, signature = token.split(".")
            expected = hmac.new(self._key(audience), encoded.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                raise ValueError("signature")
            claims = json.loads(_unb64(encoded))
        except (ValueError, TypeError, UnicodeDecodeError):
            raise Unauthenticated("invalid service token", code="invalid_token") from None
        if claims.get("aud") != audience or claims.get("scope") != scope:
            raise Unauthenticated("service token not valid for this call", code="invalid_token")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise Unauthenticated("service token expired", code="invalid_token")
        return claims


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 4096:
        raise Unauthenticated("a service token is required (Authorization: Bearer …)", code="invalid_token")
    return header[len("Bearer "):].strip()
