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
from txpush.digest import CacheDigest

TRACK_BLOCKING_ASSETS = "blocking-assets"
"""Track only stylesheets and scripts in the digest (H2O's default)."""

TRACK_ALL = "all"
"""Track every asset in the digest."""

TRACKED_TYPES = (TRACK_BLOCKING_ASSETS, TRACK_ALL)
"""The values of L{PushPolicy.track}."""

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
    @ivar track: Which assets the digest records: L{TRACK_BLOCKING_ASSETS}
        (stylesheets and scripts) or L{TRACK_ALL}.
    @ivar push: Whether to push at all; when L{False}, every client gets
        Early Hints and C{Link} preload headers instead.
    """

    maxPushes: int = attrs.field(default=DEFAULT_MAX_PUSHES)
    track: str = attrs.field(default=TRACK_BLOCKING_ASSETS)
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
        @return: Whether the digest records it.
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
    @ivar remember: Assets to add to the client's digest.
    @ivar skippedCached: Assets the digest says the client has.
    @ivar skippedDiary: Assets already pushed on this connection.
    @ivar skippedLimit: Assets beyond L{PushPolicy.maxPushes}.
    @ivar reason: Why nothing is done for the page at all, or L{None}.
    """

    push: tuple[Asset, ...] = ()
    hint: tuple[Asset, ...] = ()
    preload: tuple[Asset, ...] = ()
    remember: tuple[Asset, ...] = ()
    skippedCached: tuple[Asset, ...] = ()
    skippedDiary: tuple[Asset, ...] = ()
    skippedLimit: tuple[Asset, ...] = ()
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
) -> PagePlan:
    """
    Decide a page's pushes, hints and preload headers.

    Only GET pages that are not conditional and answer 2xx get anything.
    Assets the digest says the client has are neither pushed nor hinted (and
    never promised then cancelled).  A client that takes pushes gets up to
    C{maxPushes} assets not already pushed on the connection; the others get
    the same assets as Early Hints.  Every asset not cached is listed as a
    preload link on the response.  Pushed and hinted assets of tracked types
    go into the digest.

    @param policy: The rules.
    @param facts: The page request and response.
    @param assets: The page's assets, merged (see L{mergeAssets}).
    @param digest: The client's digest, or L{None} when push is not cache
        aware.
    @param diary: The paths already pushed on this connection.
    @return: The plan.
    """
    reason = _ineligible(facts)
    if reason is not None:
        return PagePlan(reason=reason)
    fresh: list[Asset] = []
    cached: list[Asset] = []
    for asset in assets:
        (cached if digest is not None and asset.path in digest else fresh).append(asset)
    if not (facts.canPush and policy.push):
        return PagePlan(
            hint=tuple(fresh),
            preload=tuple(fresh),
            remember=tuple(a for a in fresh if policy.tracks(a)),
            skippedCached=tuple(cached),
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
        remember=tuple(a for a in push if policy.tracks(a)),
        skippedCached=tuple(cached),
        skippedDiary=tuple(inDiary),
        skippedLimit=tuple(overLimit),
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
) -> bool:
    """
    Whether a response the client asked for itself goes into its digest.

    @param policy: The rules.
    @param method: The request method: only a GET fetches the asset.
    @param path: The request path, with its query.
    @param status: The response status: only a whole 200 response counts
        (not a 206 range, not a 304 the client already had).
    @param contentType: The response's C{Content-Type}, if any.
    @return: Whether to add C{path} to the client's digest: a whole GET
        response that is an asset (see L{fetchedAssetType}) of a tracked
        type.
    """
    if method != b"GET" or status != 200:
        return False
    asType = fetchedAssetType(path, contentType)
    if asType is None:
        # Not an asset (a page, an API response): never tracked.
        return False
    return policy.track == TRACK_ALL or asType in BLOCKING_AS_TYPES
