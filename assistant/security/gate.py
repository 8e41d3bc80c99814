"""One object per service: authenticate a request's key, apply the rate limit, scope the searcher, audit."""
from __future__ import annotations

from ..config import Settings
from .audit import AuditLog
from .keys import LOCAL, AuthError, KeyStore, Principal, key_from_headers
from .limits import RateLimiter
from .visibility import Visibility


class Gate:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = KeyStore(settings.resolved_keys_db()) if settings.auth_enabled else None
        self.limiter = RateLimiter(settings.rate_limit_per_min)
        self.visibility = Visibility(settings.case_source_units)
        self.audit = AuditLog(settings.resolved_audit_db()) if settings.audit_on() else None

    def authenticate(self, authorization: str | None, x_api_key: str | None) -> Principal:
        """The caller's principal (LOCAL when auth is off). Raises AuthError (401) or LimitExceeded (429)."""
        if self.keys is None:
            return LOCAL
        key = key_from_headers(authorization, x_api_key)
        if key is None:
            raise AuthError("missing_api_key", "缺少 API 密钥：请在 Authorization: Bearer 或 X-API-Key 请求头中提供",
                            "missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        p = self.keys.verify(key)
        self.limiter.check(p.key_id)
        return p

    def close(self) -> None:
        for x in (self.keys, self.audit):
            if x is not None:
                x.close()
