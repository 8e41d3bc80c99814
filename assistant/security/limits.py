"""Request limits: a token bucket per API key (429 with Retry-After), messages per chat request."""
from __future__ import annotations

import math
import threading
import time


class LimitExceeded(Exception):
    """status, code, reasons in Chinese and English, and Retry-After seconds for 429."""

    def __init__(self, status: int, code: str, zh: str, en: str, retry_after: int | None = None):
        super().__init__(f"{zh} {en}")
        self.status, self.code, self.zh, self.en, self.retry_after = status, code, zh, en, retry_after


class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; take() returns 0.0 or the seconds to wait."""

    def __init__(self, capacity: float, rate: float, clock=time.monotonic):
        self.capacity, self.rate, self.clock = float(capacity), float(rate), clock
        self.tokens, self.stamp = float(capacity), clock()

    def take(self, n: float = 1.0) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class RateLimiter:
    """per_min requests per key and minute, bursts up to per_min; per_min <= 0 switches it off."""

    def __init__(self, per_min: int, clock=time.monotonic):
        self.per_min, self.clock = int(per_min), clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.per_min <= 0:
            return
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = TokenBucket(self.per_min, self.per_min / 60.0, self.clock)
            wait = b.take()
        if wait > 0:
            secs = max(1, math.ceil(wait))
            raise LimitExceeded(429, "rate_limited", f"请求过于频繁：每分钟最多 {self.per_min} 次，请 {secs} 秒后重试",
                                f"rate limit exceeded: {self.per_min} requests per minute; retry in {secs} s", secs)


def check_messages(n: int, limit: int) -> None:
    if limit > 0 and n > limit:
        raise LimitExceeded(413, "too_many_messages", f"消息条数过多：{n} 条 > {limit}",
                            f"too many messages in one request: {n} > {limit}")
