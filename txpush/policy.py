"""
The push policy: given a page's assets and what is known of the client,
what to push, what to hint, what to skip and why.

Pure functions over plain values: the resource gathers the facts of a real
request (its method, whether it is conditional, the response status, the
digest cookie, the connection's diary) and applies the plan this returns.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

import attrs

from txpush.assets import BLOCKING_AS_TYPES, Asset, guessAsType, isBlocking
from txpush.delivery import isDelivered
from txpush.digest import CacheDigest

TRACK_BLOCKING_ASSETS = "blocking-assets"
"""
Record in the digest only the stylesheets and scripts the client fetches
itself (H2O's default), for a smaller digest.  Pushed assets are recorded
whatever their type.
"""

TRACK_ALL = "all"
"""
Record in the digest every asset the client fetches itself: the default,
so that the images and fonts a client fetched (over the push limit, or as a
browser that takes hints) are not pushed or hinted again.
"""

TRACKED_TYPES = (TRACK_ALL, TRACK_BLOCKING_ASSETS)
"""The values of L{PushPolicy.track}, the default first."""

DEFAULT_TRACK = TRACK_ALL
"""The default of L{PushPolicy.track}."""

DEFAULT_MAX_PUSHES = 10
"""The most assets pushed for one page (nginx's C{http2_max_concurrent_pushes})."""

# The asset type of a fetched response, from its media type.
_CONTENT_AS_TYPES = {
    b"text/css": "style",
    b"text/javascript": "script",
    b"application/javascript": "script",
    b"application/x-javascript": "script",
    b"application/json": "fetch",
}
_MEDIA_TYPE_AS_TYPES = {b"font": "font", b"image": "image"}


@attrs.frozen
class PushPolicy:
    """
    The rules that decide a page's pushes and hints.

    @ivar maxPushes: The most assets pushed for one page; the rest are left to
        the client (they still get C{Link} preload headers).
    @ivar track: Which assets the client fetches itself (rather than has
        pushed) the digest records: L{TRACK_ALL} (the default) or
        L{TRACK_BLOCKING_ASSETS} (stylesheets and scripts).  Every pushed
        asset the client gets whole is recorded, whatever its type.
    @ivar push: Whether to push at all; when L{False}, every client gets
        Early Hints and C{Link} preload headers instead.
    """

    maxPushes: int = attrs.field(default=DEFAULT_MAX_PUSHES)
    track: str = attrs.field(default=DEFAULT_TRACK)
    push: bool = True

    @maxPushes.validator
    def _checkMaxPushes(self, attribute: object, value: int) -> None:
        if value < 0:
            raise ValueError(f"maxPushes must be 0 or more, not {value}")

    @track.validator
    def _checkTrack(self, attribute: object, value: str) -> None:
        if value not in TRACKED_TYPES:
            raise ValueError(
                f"track must be one of {', '.join(TRACKED_TYPES)}, not {value!r}"
            )

    def tracks(self, asset: Asset) -> bool:
        """
        @param asset: An asset.
        @return: Whether the digest records it when the client fetches it
            itself.
        """
        return self.track == TRACK_ALL or isBlocking(asset)


@attrs.frozen
class PageFacts:
    """
    What the policy needs to know of a page request and its response.

    @ivar method: The request method, upper case.
    @ivar conditional: Whether the request carries C{If-None-Match} or
        C{If-Modified-Since}: the client has the page cached, so almost surely
        its assets (Jetty's rule).
    @ivar status: The response status, or L{None} before it is known (when
        Early Hints are decided, before the page renders).
    @ivar canPush: Whether the client accepts pushes on this connection.
    """

    method: bytes
    conditional: bool
    status: int | None
    canPush: bool


@attrs.frozen
class PagePlan:
    """
    What to do for one page.

    @ivar push: Assets to push, in order.
    @ivar hint: Assets to announce in C{103 Early Hints} (clients that do not
        take pushes).
    @ivar preload: Assets to list as C{Link: rel=preload} on the response.
    @ivar skippedCached: Assets the digest says the client has.
    @ivar skippedDiary: Assets already pushed on this connection.
    @ivar skippedLimit: Assets beyond L{PushPolicy.maxPushes}.
    @ivar skippedFailing: Assets that answered an error when last pushed for
        this page (see L{txpush.failedassets}).
    @ivar reason: Why nothing is done for the page at all, or L{None}.
    """

    push: tuple[Asset, ...] = ()
    hint: tuple[Asset, ...] = ()
    preload: tuple[Asset, ...] = ()
    skippedCached: tuple[Asset, ...] = ()
    skippedDiary: tuple[Asset, ...] = ()
    skippedLimit: tuple[Asset, ...] = ()
    skippedFailing: tuple[Asset, ...] = ()
    reason: str | None = None


def mergeAssets(*sources: Iterable[Asset]) -> tuple[Asset, ...]:
    """
    Merge asset lists in order of precedence, each path once.

    @param sources: Asset lists, the first taking precedence.
    @return: The assets in order of first appearance; for a path listed
        several times, the first listing (and its C{as} type) wins.
    """
    seen: dict[bytes, Asset] = {}
    for source in sources:
        for asset in source:
            seen.setdefault(asset.path, asset)
    return tuple(seen.values())


def _ineligible(facts: PageFacts) -> str | None:
    if facts.method != b"GET":
        return f"{facts.method.decode('ascii', 'replace')} request"
    if facts.conditional:
        return "conditional request"
    if facts.status is not None and not 200 <= facts.status < 300:
        return f"status {facts.status}"
    return None


def planPage(
    policy: PushPolicy,
    facts: PageFacts,
    assets: Sequence[Asset],
    digest: CacheDigest | None,
    diary: Container[bytes] = (),
    failing: Container[bytes] = (),
) -> PagePlan:
    """
    Decide a page's pushes, hints and preload headers.

    Only GET pages that are not conditional and answer 2xx get anything.
    Early Hints are planned before the status is known (C{facts.status} is
    L{None}), so a page that then answers an error has had them.
    Assets the digest says the client has are neither pushed, hinted nor
    listed (and never promised then cancelled), and neither are those that
    answered an error when last pushed for the page.  A client that takes
    pushes gets up to C{maxPushes} of the others not already pushed on the
    connection, and preload links for those and the ones over the limit;
    any other client gets them all as Early Hints and preload links.

    The digest is the caller's to update, with the pushes that reach the
    client whole (see L{txpush.delivery}).

    @param policy: The rules.
    @param facts: The page request and response.
    @param assets: The page's assets, merged (see L{mergeAssets}).
    @param digest: The client's digest, or L{None} when push is not cache
        aware.
    @param diary: The paths already pushed on this connection.
    @param failing: The paths left out of this page for now: they answered
        an error when pushed.
    @return: The plan.
    """
    reason = _ineligible(facts)
    if reason is not None:
        return PagePlan(reason=reason)
    fresh: list[Asset] = []
    cached: list[Asset] = []
    broken: list[Asset] = []
    for asset in assets:
        if digest is not None and asset.path in digest:
            cached.append(asset)
        elif asset.path in failing:
            broken.append(asset)
        else:
            fresh.append(asset)
    if not (facts.canPush and policy.push):
        return PagePlan(
            hint=tuple(fresh),
            preload=tuple(fresh),
            skippedCached=tuple(cached),
            skippedFailing=tuple(broken),
        )
    push: list[Asset] = []
    inDiary: list[Asset] = []
    overLimit: list[Asset] = []
    for asset in fresh:
        if asset.path in diary:
            inDiary.append(asset)
        elif len(push) < policy.maxPushes:
            push.append(asset)
        else:
            overLimit.append(asset)
    return PagePlan(
        push=tuple(push),
        preload=tuple(push + overLimit),
        skippedCached=tuple(cached),
        skippedDiary=tuple(inDiary),
        skippedLimit=tuple(overLimit),
        skippedFailing=tuple(broken),
    )


def fetchedAssetType(path: bytes, contentType: bytes | None) -> str | None:
    """
    The asset type of a response, or L{None} when it is not an asset.

    @param path: The request path, with its query.
    @param contentType: The response's C{Content-Type}, if any; it decides,
        else the path's extension does.
    @return: An C{as} type (C{"style"}, C{"script"}, C{"font"}, C{"image"},
        C{"fetch"}), or L{None} for a page, an API response, anything else.
    """
    asType = None
    if contentType is not None:
        mediaType = contentType.split(b";", 1)[0].strip().lower()
        if mediaType == b"text/html":
            return None
        asType = _CONTENT_AS_TYPES.get(
            mediaType, _MEDIA_TYPE_AS_TYPES.get(mediaType.split(b"/", 1)[0])
        )
    return asType if asType is not None else guessAsType(path)


def tracksFetchedResponse(
    policy: PushPolicy,
    method: bytes,
    path: bytes,
    status: int,
    contentType: bytes | None,
    noStore: bool = False,
) -> bool:
    """
    Whether a response the client asked for itself goes into its digest.

    @param policy: The rules.
    @param method: The request method: only a GET fetches the asset.
    @param path: The request path, with its query.
    @param status: The response status: a whole 200 response counts (not a
        206 range), and so does a 304, whose request's validator showed that
        the client holds the current copy.
    @param contentType: The response's C{Content-Type}, if any.
    @param noStore: Whether the response carries C{Cache-Control:
        no-store}: the client may not keep it.
    @return: Whether to add C{path} to the client's digest: a whole GET
        response (or a 304) that may be stored and is an asset (see
        L{fetchedAssetType}) of a tracked type.  It still has to reach its
        end (see L{txpush.delivery}).
    """
    if method != b"GET" or noStore:
        return False
    if status != 304 and not isDelivered(status, True, noStore):
        return False
    asType = fetchedAssetType(path, contentType)
    if asType is None:
        # Not an asset (a page, an API response): never tracked.
        return False
    return policy.track == TRACK_ALL or asType in BLOCKING_AS_TYPES
