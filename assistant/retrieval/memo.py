"""Per-Searcher memo: structures derived from one index generation are built once and dropped with the Searcher."""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def per_searcher(build: Callable[[object], T]) -> Callable[[object], T]:
    """Wrap `build(searcher)` so each Searcher gets its result once (thread-safe; weakly keyed)."""
    cache: "weakref.WeakKeyDictionary[object, T]" = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def get(searcher) -> T:
        with lock:
            got = cache.get(searcher)
            if got is None:
                got = cache[searcher] = build(searcher)
            return got

    get.__doc__ = build.__doc__
    return get
