"""
Preload links in C{Link} headers (RFC 8288), read and written.

Apache's mod_http2, H2O and nginx push what a response announces with
C{Link: </style.css>; rel=preload}.  L{parsePreloadLinks} reads those links
from the headers a resource set, and L{formatPreloadLink} writes them for the
final response and for C{103 Early Hints}.

The headers read here come from application code and from backends that may
be proxied, so the parser trusts nothing: it never raises, bounds its work,
and keeps only links to paths of the page's own site that are safe to push.
"""

import functools
import re
from collections.abc import Iterable, Iterator

import attrs

from txpush.assets import Asset, crossOriginRequired, guessAsType

MAX_LINK_HEADER_BYTES = 16 * 1024
"""
How many bytes of C{Link} field values L{parsePreloadLinks} reads, in all.
Field values are read in order while their total length stays within this;
the first one that would go past it, and all after it, are ignored whole
(a value cut short could read as a different link).
"""

DEFAULT_MAX_LINKS = 64
"""
How many preload links L{parsePreloadLinks} returns at most by default; it
stops reading once it has that many.  A page seldom needs more, and each
costs a pushed stream or a line of C{103 Early Hints}.
"""

# Splits a field value into link-values: commas separate them, except
# inside <...> and inside quoted strings (with backslash escapes).  Every
# alternative can end at the end of the text, so this always matches.
_LINK_VALUE = re.compile(
    rb"""(?:[^,<"]|<[^>]*>?|"(?:[^"\\]|\\.)*(?:"|\\?\Z))*""", re.DOTALL
)
# What a link-value may hold: tab and printable ASCII (no CR, LF or NUL).
_PRINTABLE = re.compile(rb"[\t\x20-\x7e]*\Z")
# One link-value: the target, then its parameters.
_TARGET = re.compile(rb"[ \t]*<([^>]*)>(.*)\Z", re.DOTALL)
# One parameter (RFC 8288 link-param), preceded by ";".
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAMETER = re.compile(
    rb"[ \t]*;[ \t]*(" + _TOKEN + rb")[ \t]*"
    rb"(?:=[ \t]*(?:(" + _TOKEN + rb')|"((?:[^"\\]|\\.)*)"))?'
)
# Trailing blanks and stray semicolons after the last parameter.
_END = re.compile(rb"[ \t;]*\Z")
_QUOTED_PAIR = re.compile(rb"\\(.)", re.DOTALL)
# An absolute URL: scheme, authority, and the path, query and fragment.
_ABSOLUTE_URL = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)\Z", re.DOTALL)


@attrs.frozen
class PreloadLink:
    """
    A preload link of a response: an asset the page will need.

    @ivar asset: The asset, a path of the page's own site.
    @ivar nopush: L{True} when the link said C{nopush}: the asset may be
        hinted (in C{103 Early Hints}) but must not be pushed, usually
        because the client likely has it already.
    """

    asset: Asset
    nopush: bool = False


def _parameters(text: bytes) -> dict[bytes, bytes | None] | None:
    # The first occurrence of a parameter wins (RFC 8288 section 3.3 says so
    # of "rel"; doing it for all keeps one rule).  None for malformed text.
    parameters: dict[bytes, bytes | None] = {}
    position = 0
    while True:
        match = _PARAMETER.match(text, position)
        if match is None:
            break
        name, token, quoted = match.groups()
        value = token if quoted is None else _QUOTED_PAIR.sub(rb"\1", quoted)
        parameters.setdefault(name.lower(), value)
        position = match.end()
    if _END.match(text, position) is None:
        return None
    return parameters


def _targetPath(
    target: bytes, scheme: bytes | None, authority: bytes | None
) -> bytes | None:
    url = _ABSOLUTE_URL.match(target)
    if url is not None:
        if scheme is None or authority is None:
            return None
        targetScheme, targetAuthority, target = url.groups()
        if (
            targetScheme.lower() != scheme.lower()
            or targetAuthority.lower() != authority.lower()
        ):
            return None
        if not target.startswith(b"/"):
            # "https://host" alone is the root; "https://host?q" is not a path.
            if target and not target.startswith(b"#"):
                return None
            target = b"/"
    # The client never sends a fragment, so drop it, as a pusher would.
    return target.split(b"#", 1)[0] or None


def _targetAndParameters(
    text: bytes,
) -> tuple[bytes, dict[bytes, bytes | None]] | None:
    # A link-value's target and parameters, or None when it is malformed.
    if not _PRINTABLE.match(text):
        return None
    link = _TARGET.match(text)
    if link is None:
        return None
    target, rest = link.groups()
    parameters = _parameters(rest)
    if parameters is None:
        return None
    return target, parameters


def _parseLink(
    text: bytes, scheme: bytes | None, authority: bytes | None
) -> PreloadLink | None:
    parsed = _targetAndParameters(text)
    if parsed is None:
        return None
    target, parameters = parsed
    rel = parameters.get(b"rel")
    if rel is None or b"preload" not in rel.lower().split():
        return None
    path = _targetPath(target, scheme, authority)
    if path is None:
        return None
    asType: str | None
    if b"as" in parameters:
        rawAsType = parameters[b"as"]
        if rawAsType is None:
            return None
        asType = rawAsType.decode("ascii").lower()
    else:
        asType = guessAsType(path)
    try:
        asset = Asset(path, asType)
    except ValueError:
        # Not a safe path of this site, or an "as" that could not be written
        # back: skip it like any other bad link.
        return None
    return PreloadLink(asset, b"nopush" in parameters)


def _fieldValues(fieldValues: Iterable[bytes]) -> Iterator[bytes]:
    total = 0
    for value in fieldValues:
        if not isinstance(value, bytes):
            continue
        total += len(value)
        if total > MAX_LINK_HEADER_BYTES:
            return
        yield value


def _linkValues(fieldValues: Iterable[bytes]) -> Iterator[bytes]:
    # Each link-value of the field values read, in order.
    for value in _fieldValues(fieldValues):
        position = 0
        while position <= len(value):
            element = _LINK_VALUE.match(value, position)
            # The pattern always matches, but a None here must not loop.
            if element is None:
                break
            position = element.end() + 1
            yield element.group()


def parsePreloadLinks(
    fieldValues: Iterable[bytes],
    scheme: bytes | None = None,
    authority: bytes | None = None,
    maxLinks: int = DEFAULT_MAX_LINKS,
) -> list[PreloadLink]:
    """
    Find the preload links of a response in its C{Link} header.

    A link is kept when its C{rel} (a token or a quoted, space-separated
    list; case does not matter) holds C{preload}, and its target is an
    absolute path of the site (C{</app.js>}) or an absolute URL whose scheme
    and authority are C{scheme} and C{authority} (compared without case).
    Its C{as} parameter, lower-cased, is the asset's type; without one, the
    type is guessed from the path with L{guessAsType}.  A C{nopush}
    parameter, with or without a value, marks the link C{nopush}.  A
    fragment of the target is dropped.

    Anything else is skipped without a word: malformed links, relative or
    scheme-relative (C{//host}) targets, other origins, paths with C{.} or
    C{..} segments or backslashes (even percent-encoded, as they could
    escape a served directory), characters that are not printable ASCII
    (including CR, LF and NUL) anywhere in the link, and targets or C{as}
    values that L{Asset} refuses.  Values that are not L{bytes} are skipped
    too.

    @param fieldValues: The values of the response's C{Link} fields, in
        order.  One value may hold several comma-separated links.  Only the
        first L{MAX_LINK_HEADER_BYTES} bytes of values are read.
    @param scheme: The page request's scheme, or L{None} to skip all
        absolute URLs.
    @param authority: The page request's authority (C{Host}), or L{None} to
        skip all absolute URLs.
    @param maxLinks: Stop once this many links are found; zero or less
        gives none.
    @return: The links in header order, one per path: the first link to a
        path gives its type, and it is C{nopush} if any link to that path
        read before the search stops is.
    """
    found: dict[bytes, PreloadLink] = {}
    if maxLinks <= 0:
        return []
    for text in _linkValues(fieldValues):
        link = _parseLink(text, scheme, authority)
        if link is None:
            continue
        path = link.asset.path
        first = found.get(path)
        if first is None:
            found[path] = link
            if len(found) >= maxLinks:
                break
        elif link.nopush and not first.nopush:
            found[path] = attrs.evolve(first, nopush=True)
    return list(found.values())


@attrs.frozen
class OtherOrigin:
    """
    An origin of another site that a page's links name: a CDN, a font host.
    Its assets cannot be pushed or preloaded from here, but a browser can
    open the connection to it while the application thinks.

    @ivar origin: The scheme and authority, lower case, as
        C{b"https://cdn.example"}.
    @ivar crossOrigin: Whether a link to it said C{crossorigin} or was a
        font: the browser then fetches with CORS, on a connection of its
        own, which only a C{crossorigin} preconnect opens.
    """

    origin: bytes
    crossOrigin: bool = False


# rel values whose target the page will fetch or connect to.
_FETCHING_RELS = frozenset({b"preload", b"modulepreload", b"preconnect", b"prefetch"})
_ORIGIN_SCHEMES = frozenset({b"https", b"http"})
# An authority: a host name or bracketed address, and an optional port.
_AUTHORITY = re.compile(rb"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")


def _otherOrigin(
    text: bytes, scheme: bytes | None, authority: bytes | None
) -> OtherOrigin | None:
    parsed = _targetAndParameters(text)
    if parsed is None:
        return None
    target, parameters = parsed
    url = _ABSOLUTE_URL.match(target)
    if url is None:
        return None
    rel = parameters.get(b"rel")
    if rel is None or not _FETCHING_RELS.intersection(rel.lower().split()):
        return None
    targetScheme, targetAuthority = url.group(1).lower(), url.group(2).lower()
    if targetScheme not in _ORIGIN_SCHEMES or not _AUTHORITY.match(targetAuthority):
        return None
    if (
        scheme is not None
        and authority is not None
        and (targetScheme, targetAuthority) == (scheme.lower(), authority.lower())
    ):
        return None
    asType = (parameters.get(b"as") or b"").lower()
    return OtherOrigin(
        targetScheme + b"://" + targetAuthority,
        b"crossorigin" in parameters or asType == b"font",
    )


def parseOtherOrigins(
    fieldValues: Iterable[bytes],
    scheme: bytes | None = None,
    authority: bytes | None = None,
    maxOrigins: int = 4,
) -> list[OtherOrigin]:
    """
    Find the origins of other sites that a response's links name.

    A link counts when its C{rel} holds C{preload}, C{modulepreload},
    C{preconnect} or C{prefetch} and its target is an absolute C{https} or
    C{http} URL whose scheme and authority are not C{scheme} and
    C{authority}.  The same bounds and checks as L{parsePreloadLinks}
    apply; anything else is skipped without a word.

    @param fieldValues: The values of the response's C{Link} fields.
    @param scheme: The page request's scheme, if known.
    @param authority: The page request's authority, if known.
    @param maxOrigins: Stop once this many origins are found.
    @return: The origins in header order, each once; C{crossOrigin} if any
        link to it read before the search stops asked for it.
    """
    if maxOrigins <= 0:
        return []
    found: list[OtherOrigin] = []
    distinct: set[bytes] = set()
    for text in _linkValues(fieldValues):
        other = _otherOrigin(text, scheme, authority)
        if other is None:
            continue
        found.append(other)
        distinct.add(other.origin)
        if len(distinct) >= maxOrigins:
            break
    return list(mergeOrigins(found))


def mergeOrigins(*sources: Iterable[OtherOrigin]) -> tuple[OtherOrigin, ...]:
    """
    Merge lists of other origins, each origin once.

    @param sources: Origin lists, in order.
    @return: The origins in order of first appearance, each C{crossOrigin}
        if any source's listing of it is.
    """
    merged: dict[bytes, OtherOrigin] = {}
    for source in sources:
        for other in source:
            first = merged.setdefault(other.origin, other)
            if other.crossOrigin and not first.crossOrigin:
                merged[other.origin] = other
    return tuple(merged.values())


def formatPreconnectLink(other: OtherOrigin) -> bytes:
    """
    Write a preconnect link for a C{Link} header.

    @param other: The origin.
    @return: A field value such as C{<https://cdn.example>; rel=preconnect},
        with C{; crossorigin} when the origin's links asked for it.
    """
    value = b"<" + other.origin + b">; rel=preconnect"
    return value + b"; crossorigin" if other.crossOrigin else value


@functools.lru_cache(maxsize=4096)
def formatPreloadLink(asset: Asset, nopush: bool = False) -> bytes:
    """
    Write a preload link for a C{Link} header.

    @param asset: The asset.
    @param nopush: Add C{nopush}, telling servers and proxies that read the
        link not to push the asset.
    @return: A field value such as C{</style.css>; rel=preload; as=style},
        with C{; crossorigin} for the types that need it (see
        L{crossOriginRequired}).  Without a type there is no C{as}.  Each
        asset's value is written once: a page's assets are the same on
        every request.
    """
    parts = [b"<" + asset.path + b">", b"rel=preload"]
    if asset.asType is not None:
        parts.append(b"as=" + asset.asType.encode("ascii"))
    if crossOriginRequired(asset.asType):
        parts.append(b"crossorigin")
    if nopush:
        parts.append(b"nopush")
    return b"; ".join(parts)


def formatPreloadLinks(assets: Iterable[Asset]) -> list[bytes]:
    """
    Write one preload link per asset, each a field value of its own.

    @param assets: The assets, in the order to announce them.
    @return: The field values, in the same order; give each to
        C{request.responseHeaders.addRawHeader(b"link", value)}.
    """
    return [formatPreloadLink(asset) for asset in assets]
