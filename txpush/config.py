"""
L{PushConfig}, how a L{txpush.CacheAwarePushResource} pushes and hints, and
L{PushCounters}, what it has done.

Plain values: no Twisted here, so the pure core (L{txpush.session}) takes
them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from txpush.assets import Asset
from txpush.digest import (
    DEFAULT_CAPACITY_BITS,
    DEFAULT_COOKIE_NAME,
    DEFAULT_MAX_AGE,
    CacheDigest,
    setCookieHeaderValue,
)
from txpush.failedassets import DEFAULT_RETRY_AFTER
from txpush.learning import LearningConfig
from txpush.linkhints import LinkHintConfig
from txpush.manifest import Manifest
from txpush.policy import DEFAULT_MAX_PUSHES, DEFAULT_TRACK, PushPolicy

if TYPE_CHECKING:
    from txpush.session import PageOutcome


@attrs.frozen
class PushConfig:
    """
    How a L{CacheAwarePushResource<txpush.CacheAwarePushResource>} pushes
    and hints.

    @ivar manifest: The pages' assets, or L{None}.
    @ivar push: Push to clients that take pushes; when L{False}, every client
        gets Early Hints and preload headers instead.
    @ivar maxPushes: The most assets pushed for one page.
    @ivar useDigest: Be cache aware: read and update the digest cookie.
        When L{False}, push is plain: every page pushes its assets, up to
        C{maxPushes} (each once per connection), and sets no cookie.
    @ivar cookieName: The digest cookie's name; H2O's by default, so a client
        keeps one digest across an H2O front and txpush.
    @ivar capacityBits: The digest's capacity, 1 to 15 bits; 13 holds about
        100 assets at a 1% false-positive rate.
    @ivar cookieMaxAge: The digest cookie's C{Max-Age}, in seconds.
    @ivar track: Which assets the client fetches itself the digest records:
        C{"all"} (the default) or C{"blocking-assets"} (stylesheets and
        scripts, H2O's default, for a smaller digest).  Every
        pushed asset the client gets whole is recorded, whatever its type.
    @ivar earlyHints: Send C{103 Early Hints} to clients that do not take
        pushes, for the assets known before the page renders (from
        L{CacheAwarePushResource.assetsFor
        <txpush.CacheAwarePushResource.assetsFor>}, the manifest and
        learning).
    @ivar earlyHintsOverHTTP11: Send them to HTTP/1.1 clients too (some old
        HTTP/1.1 clients mishandle informational responses).
    @ivar readLinkHeaders: Take assets from the C{Link: rel=preload} headers
        the wrapped resource sets.
    @ivar addLinkHeaders: List the page's assets as C{Link: rel=preload}
        headers on its response: those pushed and those over C{maxPushes},
        or, for a client that takes no pushes, all of them; never one the
        digest names, one whose push answered an error lately, one already
        pushed on the connection, or one the page's own C{Link} headers
        list.
    @ivar learning: Learn pages' assets from traffic (see
        L{txpush.learning}), or L{None} not to.
    @ivar linkHints: Remember the preload links of each page's responses
        (see L{txpush.linkhints}) and send them as the C{103 Early Hints}
        of the page's next requests, before the application answers; or
        L{None} not to.  On by default: an application that names its
        assets only in its final response gets its hints before its think
        time, and a hint fades once the page stops listing it.  Needs
        C{readLinkHeaders}.
    @ivar preconnect: With C{linkHints}, hint C{rel=preconnect} for the
        other sites' origins (a CDN, a font host) that the page's links
        name: their assets cannot be preloaded from here, but the browser
        can open the connection while the application thinks.
    @ivar failedAssetRetry: How long, in seconds, an asset whose push
        answered 400 or more is left out of its page (neither pushed nor
        hinted nor listed) before it is tried again.
    """

    manifest: Manifest | None = None
    push: bool = True
    maxPushes: int = DEFAULT_MAX_PUSHES
    useDigest: bool = True
    cookieName: bytes = DEFAULT_COOKIE_NAME
    capacityBits: int = DEFAULT_CAPACITY_BITS
    cookieMaxAge: int = DEFAULT_MAX_AGE
    track: str = DEFAULT_TRACK
    earlyHints: bool = True
    earlyHintsOverHTTP11: bool = False
    readLinkHeaders: bool = True
    addLinkHeaders: bool = True
    learning: LearningConfig | None = None
    linkHints: LinkHintConfig | None = attrs.field(factory=LinkHintConfig)
    preconnect: bool = True
    failedAssetRetry: float = attrs.field(default=DEFAULT_RETRY_AFTER)
    # Made once, here, rather than on every request.
    _policy: PushPolicy = attrs.field(init=False, repr=False, eq=False)

    @failedAssetRetry.validator
    def _checkFailedAssetRetry(self, attribute: object, value: float) -> None:
        if not value >= 0 or value == float("inf"):
            raise ValueError(
                f"failedAssetRetry must be a number of seconds, 0 or more, not {value}"
            )

    def __attrs_post_init__(self) -> None:
        # Fail at configuration time, not on the first request.
        object.__setattr__(
            self,
            "_policy",
            PushPolicy(maxPushes=self.maxPushes, track=self.track, push=self.push),
        )
        setCookieHeaderValue(
            CacheDigest(self.capacityBits), self.cookieName, self.cookieMaxAge
        )

    @property
    def policy(self) -> PushPolicy:
        """
        The pure policy these settings make.
        """
        return self._policy


@attrs.define
class PushCounters:
    """
    What a L{CacheAwarePushResource<txpush.CacheAwarePushResource>} has done
    since it was made.

    @ivar pages: Pages that had assets to push or hint.
    @ivar pushed: Assets pushed.
    @ivar skippedCached: Assets not pushed or hinted: the client's digest
        says it has them.
    @ivar skippedDiary: Assets not pushed: already pushed on the connection.
    @ivar skippedLimit: Assets not pushed: over the per-page limit.
    @ivar skippedFailing: Assets neither pushed nor hinted: their push
        answered an error lately (see L{PushConfig.failedAssetRetry}).
    @ivar pushFailed: Pushes refused (the client's stream limit, GOAWAY).
    @ivar cancelled: Pushes the client reset.
    @ivar bytesPushed: Body bytes of pushed responses.
    @ivar earlyHints: C{103 Early Hints} responses sent.
    @ivar hinted: Assets announced in them.
    @ivar digestUpdates: Responses that set an updated digest cookie.
    """

    pages: int = 0
    pushed: int = 0
    skippedCached: int = 0
    skippedDiary: int = 0
    skippedLimit: int = 0
    skippedFailing: int = 0
    pushFailed: int = 0
    cancelled: int = 0
    bytesPushed: int = 0
    earlyHints: int = 0
    hinted: int = 0
    digestUpdates: int = 0

    def countHints(self, hinted: Iterable[Asset]) -> None:
        """
        Count one C{103 Early Hints} response.

        @param hinted: The assets it announced.
        """
        self.earlyHints += 1
        self.hinted += len(tuple(hinted))

    def countPage(self, outcome: PageOutcome) -> None:
        """
        Count what was done for one page.

        @param outcome: The page's outcome, from
            L{PageSession.settle<txpush.session.PageSession.settle>}.
        """
        if outcome.setCookie is not None:
            self.digestUpdates += 1
        if not outcome.hadAssets:
            return
        plan = outcome.plan
        self.pages += 1
        self.pushed += len(plan.push)
        self.skippedCached += len(plan.skippedCached)
        self.skippedDiary += len(plan.skippedDiary)
        self.skippedLimit += len(plan.skippedLimit)
        self.skippedFailing += len(plan.skippedFailing)

    def countPush(self, bytesSent: int, completed: bool) -> None:
        """
        Count the end of one push.

        @param bytesSent: Body bytes of the pushed response.
        @param completed: Whether it was produced whole (else the client reset
            it, or the connection was lost).
        """
        self.bytesPushed += bytesSent
        if not completed:
            self.cancelled += 1
