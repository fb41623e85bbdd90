"""Who is looking: the operator, a read-only viewer, or nobody yet.

Sign-in takes the operator key or the viewer key, the same keys every service's staff routes
take, and answers a session cookie (HttpOnly, SameSite=Lax, signed and expiring). The cookie
names the key it was issued for by a hash: when the city issues a new key, sessions of the old
one end. API clients (a wall screen's script, the access-table test) may send `X-Api-Key`
instead, as on every other service.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeTimedSerializer

from gridloop_common.api_keys import keys_match

COOKIE = "gridloop_console_session"
LANGUAGE_COOKIE = "gridloop_console_lang"
_SALT = "gridloop-console-session"


class Role(StrEnum):
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def may_act(self) -> bool:
        return self is Role.OPERATOR


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Sessions:
    operator_key: str
    viewer_key: str
    max_age_seconds: int

    @property
    def enabled(self) -> bool:
        return bool(self.operator_key)

    def role_of_key(self, presented: str | None) -> Role | None:
        if not presented or not self.enabled:
            return None
        if keys_match(presented, self.operator_key):
            return Role.OPERATOR
        if self.viewer_key and keys_match(presented, self.viewer_key):
            return Role.VIEWER
        return None

    def issue(self, role: Role) -> str:
        return self._serializer().dumps({"role": str(role), "key": _fingerprint(self._key(role))})

    def role_of_cookie(self, token: str | None) -> Role | None:
        if not token or not self.enabled:
            return None
        try:
            claims = self._serializer().loads(token, max_age=self.max_age_seconds)
            role = Role(claims["role"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        key = self._key(role)
        return role if key and claims.get("key") == _fingerprint(key) else None

    def _key(self, role: Role) -> str:
        return self.operator_key if role is Role.OPERATOR else self.viewer_key

    def _serializer(self) -> URLSafeTimedSerializer:
        # Signed with the operator key: a new operator key ends every session at once.
        return URLSafeTimedSerializer(self.operator_key, salt=_SALT)
