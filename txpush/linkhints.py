"""
L{LinkHintMemory}: the preload links each page's responses listed, kept so
that the next request for the page gets them as C{103 Early Hints} before
the application answers.

Many applications set their C{Link: rel=preload} headers only with their
final response, after a database query or a template: too late for a hint.
Remembering them per page, as Cloudflare's Early Hints does at the edge,
moves them before the think time.  Hints fade: an asset is hinted while it
is in any of the page's last L{LinkHintConfig.responses} responses, so one
that the page stops listing is dropped after that many.  The origins the
page's links name on other sites are kept the same way, for C{rel=preconnect}
hints.

Every structure is bounded: pages (the least recently answered first out),
links per response, origins per response.  Pure code: no Twisted here.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

import attrs

from txpush.assets import Asset
from txpush.linkheader import OtherOrigin, mergeOrigins


def _atLeastOne(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be 1 or more, not {value}")


@attrs.frozen
class LinkHintConfig:
    """
    How much L{LinkHintMemory} keeps.

    @ivar responses: How many of a page's last responses its hints come
        from: an asset none of them listed is no longer hinted.
    @ivar maxPages: Pages remembered; the least recently answered goes.
    @ivar maxLinksPerResponse: Preload links kept from one response.
    @ivar maxOriginsPerResponse: Other origins kept from one response.
    """

    responses: int = attrs.field(default=3, validator=_atLeastOne)
    maxPages: int = attrs.field(default=1000, validator=_atLeastOne)
    maxLinksPerResponse: int = attrs.field(default=32, validator=_atLeastOne)
    maxOriginsPerResponse: int = attrs.field(default=4, validator=_atLeastOne)


@attrs.frozen
class PageHints:
    """
    What to hint for a page before it answers.

    @ivar assets: The assets its recent responses listed, most recent
        first.
    @ivar origins: The other origins they named, for C{rel=preconnect},
        most recent first.
    """

    assets: tuple[Asset, ...] = ()
    origins: tuple[OtherOrigin, ...] = ()


class LinkHintMemory:
    """
    The preload links and other origins of each page's last few responses.

    @ivar config: The L{LinkHintConfig}.
    """

    def __init__(self, config: LinkHintConfig | None = None) -> None:
        """
        @param config: The bounds; the defaults when L{None}.
        """
        self.config = LinkHintConfig() if config is None else config
        self._pages: OrderedDict[
            bytes, deque[tuple[tuple[Asset, ...], tuple[OtherOrigin, ...]]]
        ] = OrderedDict()

    def __len__(self) -> int:
        """
        @return: How many pages are remembered.
        """
        return len(self._pages)

    def responded(
        self,
        page: bytes,
        assets: Sequence[Asset],
        origins: Sequence[OtherOrigin] = (),
    ) -> None:
        """
        Record what one response of C{page} listed.  A page not remembered
        whose response lists nothing is not added.

        @param page: The page key (its path without query).
        @param assets: The assets of its own C{Link: rel=preload} headers, in
            order; beyond L{LinkHintConfig.maxLinksPerResponse}, ignored.
        @param origins: The other origins its links named; beyond
            L{LinkHintConfig.maxOriginsPerResponse}, ignored.
        """
        config = self.config
        recent = self._pages.pop(page, None)
        if recent is None:
            if not assets and not origins:
                # Nothing to hint: no need to take a place from a page that has.
                return
            recent = deque(maxlen=config.responses)
        recent.appendleft(
            (
                tuple(assets[: config.maxLinksPerResponse]),
                tuple(origins[: config.maxOriginsPerResponse]),
            )
        )
        self._pages[page] = recent
        while len(self._pages) > config.maxPages:
            self._pages.popitem(last=False)

    def hintsFor(self, page: bytes) -> PageHints:
        """
        @param page: The page key (its path without query).
        @return: What its recent responses listed, each asset (by path) and
            origin once; empty for a page not remembered.
        """
        recent = self._pages.get(page)
        if recent is None:
            return PageHints()
        assets: dict[bytes, Asset] = {}
        for listed, _ in recent:
            for asset in listed:
                assets.setdefault(asset.path, asset)
        return PageHints(
            tuple(assets.values()), mergeOrigins(*(named for _, named in recent))
        )
