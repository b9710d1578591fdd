"""
L{FailedAssets}: the assets of a page that answered an error when pushed,
so that they are neither pushed nor hinted again for that page for a while.

A manifest with a typo, a stale C{Link} header, an C{assetsFor} that names
a path the application does not serve: each would otherwise cost every
first visit a pushed error page, and the log would say nothing.  The
resource logs the first failure of each page and asset once, and asks
L{FailedAssets.isFailing} before it plans the page.

Pure code: no Twisted here.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

DEFAULT_RETRY_AFTER = 300.0
"""How long, in seconds, an asset that failed is left out of its page."""

DEFAULT_MAX_FAILURES = 4096
"""The most page and asset pairs remembered; the oldest go first."""


class FailedAssets:
    """
    The page and asset pairs whose push answered 400 or more, each until
    its retry time.

    @ivar retryAfter: How long a failing asset is left out, in seconds.
    @ivar maxEntries: The most pairs remembered.
    """

    def __init__(
        self,
        retryAfter: float = DEFAULT_RETRY_AFTER,
        maxEntries: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        """
        @param retryAfter: How long a failing asset is left out, in seconds;
            0 pushes it again on the next visit (each failure is still
            logged once per page and asset).
        @param maxEntries: The most pairs remembered, 1 or more.
        @raise ValueError: C{retryAfter} is negative or not a number, or
            C{maxEntries} is less than 1.
        """
        if not retryAfter >= 0:
            raise ValueError(f"retryAfter must be 0 or more seconds, not {retryAfter}")
        if maxEntries < 1:
            raise ValueError(f"maxEntries must be 1 or more, not {maxEntries}")
        self.retryAfter = retryAfter
        self.maxEntries = maxEntries
        self._until: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()
        self._logged: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()

    def failed(self, page: bytes, asset: bytes, now: float) -> bool:
        """
        Record that C{asset}, pushed for C{page}, answered an error.

        @param page: The page's path, without query.
        @param asset: The asset's path, with its query.
        @param now: The time, in seconds.
        @return: Whether the pair's failure is news: its first, or its first
            since it last succeeded.  Then log it; the log says it once.
        """
        key = (page, asset)
        self._until.pop(key, None)
        self._until[key] = now + self.retryAfter
        self._trim(self._until)
        if key in self._logged:
            return False
        self._logged[key] = None
        self._trim(self._logged)
        return True

    def succeeded(self, page: bytes, asset: bytes) -> None:
        """
        Record that C{asset}, pushed for C{page}, was served: a later failure
        is reported again.

        @param page: The page's path, without query.
        @param asset: The asset's path, with its query.
        """
        self._until.pop((page, asset), None)
        self._logged.pop((page, asset), None)

    def isFailing(self, page: bytes, asset: bytes, now: float) -> bool:
        """
        @param page: The page's path, without query.
        @param asset: The asset's path, with its query.
        @param now: The time, in seconds.
        @return: Whether the pair failed and its retry time has not come.
        """
        until = self._until.get((page, asset))
        if until is None:
            return False
        if now < until:
            return True
        # Retry it; its next failure is not reported again until it succeeds.
        del self._until[(page, asset)]
        return False

    def _trim(self, entries: OrderedDict[tuple[bytes, bytes], Any]) -> None:
        while len(entries) > self.maxEntries:
            entries.popitem(last=False)
