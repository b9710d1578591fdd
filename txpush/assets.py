"""
Assets: the stylesheets, scripts, fonts and images a page needs.

An L{Asset} is a path of the page's own site and, when known, the kind of
resource it is: the C{as} value of a preload link (C{style}, C{script},
C{font}, ...).  Every L{Asset} is valid by construction, so that whatever
makes one (a subclass, a manifest, a parsed C{Link} header) can hand it to
the pusher and to the C{Link} header formatter as it is.
"""

import re
from urllib.parse import unquote_to_bytes

import attrs

MAX_PATH_LENGTH = 2048
"""
The longest asset path accepted, in bytes.  Longer ones are not worth a
push, and a bound keeps header blocks small.
"""

BLOCKING_AS_TYPES = frozenset({"style", "script"})
"""
The C{as} values of the I{blocking assets}: stylesheets and scripts, which
hold back the first paint.  They are the ones H2O tracks by default.
"""

CROSS_ORIGIN_AS_TYPES = frozenset({"font", "fetch"})
"""
The C{as} values whose preload link needs C{crossorigin}: browsers fetch
fonts, and C{fetch()} requests, in CORS mode, and a preload only serves a
later request made in the same mode.
"""

_EXTENSION_AS_TYPES = {
    b"css": "style",
    b"js": "script",
    b"mjs": "script",
    b"woff2": "font",
    b"woff": "font",
    b"ttf": "font",
    b"otf": "font",
    b"png": "image",
    b"jpg": "image",
    b"jpeg": "image",
    b"gif": "image",
    b"webp": "image",
    b"avif": "image",
    b"svg": "image",
    b"ico": "image",
    b"json": "fetch",
}

# RFC 3986 characters of a path and query: unreserved, "%", the sub-delims
# but "," and ";" (naive Link header parsers split on them), ":", "@", "/"
# and "?".  "#" starts a fragment, which is refused on its own.
_PATH_CHARACTERS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+=:@/?"
)
_VISIBLE_ASCII = re.compile(rb"[\x21-\x7e]*\Z")
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_URL = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://[^/?]*(.*)\Z")
_AS_TYPE = re.compile(r"[a-z][a-z0-9\-]{0,31}\Z")


def _quoted(path: bytes) -> str:
    # Shown as a manifest writes paths, in double quotes, with any byte that
    # is not printable ASCII escaped so that a message stays on one line.
    shown = "".join(
        chr(byte) if 0x20 <= byte <= 0x7E else f"\\x{byte:02x}" for byte in path
    )
    return f'"{shown}"'


def outsideProblem(path: bytes) -> str | None:
    """
    Why a path could name a file outside the site, if it could.

    Servers percent-decode a path before they map it to files, so the
    decoded form is checked: C{%2e%2e}, C{%2E.} and C{..%2F} are C{..} too.

    @param path: An absolute path, maybe with a query (not checked).
    @return: The problem and what to do, or L{None}.
    """
    decoded = unquote_to_bytes(path.split(b"?", 1)[0])
    if b"\\" in decoded:
        found = "an encoded backslash"
    elif b"\x00" in decoded:
        found = "an encoded NUL"
    elif any(segment in (b".", b"..") for segment in decoded.split(b"/")):
        found = "a . or .. segment (perhaps percent-encoded)"
    else:
        return None
    return (
        f"has {found}, which could name a file outside the site: give the "
        "path from the site root"
    )


def _relativeProblem(path: bytes) -> str:
    url = _URL.match(path)
    if url is not None:
        suggestion = b"/" + url.group(1).lstrip(b"/")
        return (
            "is a URL, not a path: only paths of this site can be pushed, "
            "such as " + _quoted(suggestion)
        )
    if b".." in unquote_to_bytes(path).split(b"/"):
        return (
            "climbs with .., which could name a file outside the site: give the "
            "path from the site root"
        )
    suggestion = b"/" + b"/".join(
        segment for segment in path.split(b"/") if segment != b"."
    ).lstrip(b"/")
    if pathProblem(suggestion) is None:
        return "is not an absolute path: write it as " + _quoted(suggestion)
    return "is not an absolute path: give one that starts with /"


def pathProblem(path: bytes) -> str | None:
    """
    Say why a path cannot be an asset path, if it cannot.

    An asset path is an absolute path with an optional query, such as
    C{/app.js?v=2}, of at most L{MAX_PATH_LENGTH} bytes.  It is made only of
    the characters RFC 3986 allows in a path and a query, less C{,} and C{;}
    (percent-encode those as C{%2C} and C{%3B}), with well-formed
    percent-escapes and without a fragment.  It cannot name a file outside
    the site: it has no C{.} or C{..} segment, no backslash and no NUL, even
    percent-encoded.  Such a path is what a browser requests, and is safe to
    write inside the C{<...>} of a C{Link} header.

    @param path: The path to check.
    @return: L{None} if C{path} is a valid asset path, else the reason and
        the remedy, as a phrase that follows the path in a sentence (C{is
        not an absolute path: write it as "/style.css"}).
    """
    if not path:
        return "is empty: give an absolute path such as /app.js"
    if len(path) > MAX_PATH_LENGTH:
        return f"is longer than {MAX_PATH_LENGTH} bytes: give a shorter path"
    if not _VISIBLE_ASCII.match(path):
        return "holds spaces, control or non-ASCII characters: percent-encode them"
    if b"#" in path:
        fragment = path[path.index(b"#") :]
        return "has a fragment, which a client never requests: leave out " + _quoted(
            fragment
        )
    bad = sorted({chr(byte) for byte in path if byte not in _PATH_CHARACTERS})
    if bad:
        return (
            f"holds {' '.join(map(repr, bad))}, which a URL in a Link header "
            "cannot carry as is: percent-encode them"
        )
    if _BAD_PERCENT.search(path):
        return "has a % not followed by two hex digits: write % itself as %25"
    if path.startswith(b"//"):
        return (
            "is scheme-relative (it names another host): give a path of this "
            "site, such as /app.js"
        )
    if not path.startswith(b"/"):
        return _relativeProblem(path)
    return outsideProblem(path)


def asTypeProblem(asType: str | None) -> str | None:
    """
    Say why a value cannot be the C{as} of a preload link, if it cannot.

    @param asType: The value to check.
    @return: L{None} if C{asType} is L{None} or a lower-case token of letters,
        digits and hyphens that starts with a letter (at most 32 characters),
        else the reason, as a phrase that follows the value in a sentence.
    """
    if asType is None:
        return None
    if not isinstance(asType, str):
        return f"must be a string, not {type(asType).__name__}"
    if not _AS_TYPE.match(asType):
        return (
            "is not a preload destination: give a lower-case word such as "
            '"style", "script", "font", "image" or "fetch"'
        )
    return None


def _checkPath(
    instance: object, attribute: "attrs.Attribute[bytes]", path: bytes
) -> None:
    if not isinstance(path, bytes):
        raise TypeError(f"asset path must be bytes, not {type(path).__name__}")
    problem = pathProblem(path)
    if problem is not None:
        raise ValueError(f"asset path {_quoted(path)} {problem}")


def _checkAsType(
    instance: object, attribute: "attrs.Attribute[str | None]", asType: str | None
) -> None:
    problem = asTypeProblem(asType)
    if problem is not None:
        raise ValueError(f"asset type {asType!r} {problem}")


@attrs.frozen
class Asset:
    """
    A resource of the page's own site that the page needs.

    @ivar path: An absolute path with an optional query (C{b"/app.js?v=2"}),
        as L{pathProblem} describes it; percent-encoding is the caller's job.
    @ivar asType: The C{as} value of its preload link (C{"style"},
        C{"script"}, C{"font"}, C{"image"}, C{"fetch"}, ...), or L{None} when
        unknown.
    @raise ValueError: (On construction.)  C{path} or C{asType} is invalid;
        the message says why and what to write instead.
    @raise TypeError: (On construction.)  C{path} is not L{bytes}.
    """

    path: bytes = attrs.field(validator=_checkPath)
    asType: str | None = attrs.field(default=None, validator=_checkAsType)


def guessAsType(path: bytes) -> str | None:
    """
    Guess the C{as} value of a path from its file name extension.

    @param path: A path, with or without query and fragment (both ignored).
    @return: C{"style"} for C{.css}; C{"script"} for C{.js} and C{.mjs};
        C{"font"} for C{.woff2}, C{.woff}, C{.ttf} and C{.otf}; C{"image"}
        for C{.png}, C{.jpg}, C{.jpeg}, C{.gif}, C{.webp}, C{.avif}, C{.svg}
        and C{.ico}; C{"fetch"} for C{.json}; L{None} otherwise.  Case does
        not matter.
    """
    name = re.split(rb"[?#]", path, maxsplit=1)[0].rsplit(b"/", 1)[-1]
    _stem, dot, extension = name.rpartition(b".")
    if not dot:
        return None
    return _EXTENSION_AS_TYPES.get(extension.lower())


def asset(path: bytes | str, asType: str | None = None) -> Asset:
    """
    Make an L{Asset}, from text or bytes, guessing its type when not given.

    @param path: The asset path; text must be ASCII (percent-encode the
        rest).
    @param asType: The C{as} value, in any case, or L{None} to guess it with
        L{guessAsType}.
    @return: The asset.
    @raise ValueError: The path or the type is invalid (see L{Asset}).
    @raise TypeError: The path is neither L{bytes} nor L{str}.
    """
    if isinstance(path, str):
        try:
            path = path.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(
                f"asset path {path!r} is not ASCII: percent-encode it first"
            ) from None
    elif not isinstance(path, bytes):
        raise TypeError(f"asset path must be bytes or str, not {type(path).__name__}")
    if asType is None:
        asType = guessAsType(path)
    elif isinstance(asType, str):
        asType = asType.lower()
    return Asset(path, asType)


def isBlocking(asset: Asset) -> bool:
    """
    Tell whether an asset is a I{blocking asset}: a stylesheet or a script.

    @param asset: The asset.
    @return: L{True} if its C{as} value is one of L{BLOCKING_AS_TYPES}.
    """
    return asset.asType in BLOCKING_AS_TYPES


def crossOriginRequired(asType: str | None) -> bool:
    """
    Tell whether a preload link for this type of asset needs C{crossorigin}.

    Fonts, and data read with C{fetch()}, are fetched in CORS mode, so a
    preload without C{crossorigin} would not serve them and they would be
    downloaded twice.

    @param asType: An C{as} value, or L{None}.
    @return: L{True} if it is one of L{CROSS_ORIGIN_AS_TYPES}.
    """
    return asType in CROSS_ORIGIN_AS_TYPES
