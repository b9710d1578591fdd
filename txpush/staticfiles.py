"""
Static files with a validator and cache headers, as C{twist txpush} serves
them.

C{twisted.web.static.File} sends C{Last-Modified} and answers
C{If-Modified-Since}, and nothing else a cache needs.  L{ValidatedFile}
adds a strong C{ETag}, answers C{If-None-Match} and C{If-Range} with it,
and sets C{Cache-Control} by content type, from a L{CacheControl}.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs
from twisted.web.http import CACHED, NOT_MODIFIED, stringToDatetime
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File, getTypeAndEncoding

from txpush.filecache import SmallFileCache

DEFAULT_SMALL_FILES = SmallFileCache()
"""
Where the small files of every L{ValidatedFile} made without a cache of its
own are kept (by absolute path: trees that share files share their bytes).
"""

DEFAULT_CACHE_CONTROL = "no-cache"
"""
The C{Cache-Control} of a served file whose type has no value of its own:
the browser stores the file, and asks whether it changed (a cheap C{304},
thanks to the C{ETag}) before each use, so that a file changed under the
same name is never served stale.
"""

# RFC 9110 5.6.2 and 5.6.4.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# Quoted strings in ASCII: the header is sent as ASCII.
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_DIRECTIVE = re.compile(rf"({_TOKEN})(?:=({_TOKEN}|{_QUOTED}))?")
_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")

# Response directives (RFC 9111 5.2.2, RFC 8246, RFC 5861), by what their
# argument must be.
_SECONDS = frozenset(
    {"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"}
)
_OPTIONAL_FIELDS = frozenset({"no-cache", "private"})
_BARE = frozenset(
    {
        "public",
        "no-store",
        "no-transform",
        "must-revalidate",
        "proxy-revalidate",
        "must-understand",
        "immutable",
    }
)
_EXAMPLES = "no-cache, max-age=86400, public, immutable"


def cacheControlProblem(value: str) -> str | None:
    """
    Say why a value cannot be a served file's C{Cache-Control}, if it
    cannot.

    It is a comma-separated list of the response directives of RFC 9111,
    RFC 8246 (C{immutable}) and RFC 5861 (C{stale-while-revalidate},
    C{stale-if-error}), with the arguments they take: a number of seconds
    for C{max-age} and the like, none for C{public} and the like.  Unknown
    directives are refused: a browser would silently ignore a misspelt one.

    @param value: The value.
    @return: L{None} if it is valid, else what is wrong and what to write,
        as a phrase.
    """
    directives = [part.strip() for part in _commaSeparated(value)]
    if not value.strip() or not all(directives):
        return f"give one or more directives separated by commas, such as {_EXAMPLES}"
    for directive in directives:
        match = _DIRECTIVE.fullmatch(directive)
        if match is None:
            return (
                f"{directive!r} is not a directive: write NAME or NAME=VALUE, "
                "such as max-age=86400"
            )
        name, argument = match[1].lower(), match[2]
        if name in _SECONDS:
            if argument is None or not argument.isdigit():
                return f"{name} takes a number of seconds: write {name}=86400"
        elif name in _BARE:
            if argument is not None:
                return f"{name} takes no value: write {name}"
        elif name in _OPTIONAL_FIELDS:
            pass
        else:
            return f"unknown directive {name!r}: write directives such as {_EXAMPLES}"
    return None


def _commaSeparated(value: str) -> list[str]:
    # Split at the commas outside quoted strings (no-cache="a, b").
    parts, current, quoted, escaped = [], "", False, False
    for character in value:
        if character == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += character
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
    return [*parts, current]


def _readOnly(byType: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(byType))


@attrs.frozen
class CacheControl:
    """
    The C{Cache-Control} of served files, by content type.

    @ivar default: The value for a type without one of its own, or L{None}
        to send none.
    @ivar byType: Values by content type, lower-case: a C{type/subtype}
        (C{"text/html"}), or a C{type/*} (C{"image/*"}) for its subtypes
        without a value of their own; read-only.
    """

    default: str | None = DEFAULT_CACHE_CONTROL
    byType: Mapping[str, str] = attrs.field(
        factory=dict, converter=_readOnly, hash=False
    )

    @classmethod
    def fromArguments(cls, arguments: Sequence[str]) -> CacheControl:
        """
        Make one from values such as C{twist txpush --cache-control} takes.

        @param arguments: Each a C{VALUE}, for every type, or a
            C{TYPE=VALUE}, for one type (C{"text/html=no-cache"},
            C{"image/*=max-age=86400"}).  A type with no value, and every
            type when no C{VALUE} is given alone, gets
            L{DEFAULT_CACHE_CONTROL}.
        @return: The values, checked.
        @raise ValueError: An argument is wrong, or names a type (or every
            type) twice; the message starts with the argument and says what
            to write.
        """
        default: str | None = None
        byType: dict[str, str] = {}
        for argument in arguments:
            contentType, value = _split(argument)
            problem = cacheControlProblem(value)
            if problem is None and contentType is not None:
                problem = _typeProblem(contentType)
            if problem is None and (
                contentType in byType if contentType else default is not None
            ):
                problem = (
                    f"a value for {contentType or 'every type'} is given twice: "
                    "give it once"
                )
            if problem is not None:
                raise ValueError(f"{argument}: {problem}")
            if contentType is None:
                default = value.strip()
            else:
                byType[contentType] = value.strip()
        return cls(DEFAULT_CACHE_CONTROL if default is None else default, byType)

    def forType(self, contentType: str | None) -> str | None:
        """
        @param contentType: A C{Content-Type}, parameters allowed, or
            L{None} when it is not known.
        @return: The C{Cache-Control} for it, or L{None} for none.
        """
        if contentType is not None:
            essence = contentType.split(";", 1)[0].strip().lower()
            for key in (essence, essence.split("/", 1)[0] + "/*"):
                if key in self.byType:
                    return self.byType[key]
        return self.default


def _split(argument: str) -> tuple[str | None, str]:
    # A directive's name holds no "/", a type does: "image/*=max-age=60" is
    # a type's, "max-age=60" every type's.
    before, equals, after = argument.partition("=")
    if equals and "/" in before:
        return before.strip().lower(), after
    return None, argument


def _typeProblem(contentType: str) -> str | None:
    match = _TYPE.fullmatch(contentType)
    if match is None or match[1] == "*" or ("*" in match[2] and match[2] != "*"):
        return (
            f"{contentType!r} is not a content type: write TYPE/SUBTYPE=VALUE or "
            "TYPE/*=VALUE, such as image/*=max-age=86400, or VALUE alone for "
            "every type"
        )
    return None


def entityTag(size: int, modifiedNanoseconds: int) -> bytes:
    """
    The strong C{ETag} of a file, as nginx makes it but to the nanosecond:
    it changes when the file is written (its modification time changes)
    or changes size.

    @param size: The file's size in bytes.
    @param modifiedNanoseconds: Its modification time, in nanoseconds since
        the epoch.
    @return: The tag, quoted: C{b'"<time in hex>-<size in hex>"'}.
    """
    return b'"%x-%x"' % (modifiedNanoseconds, size)


def _noneMatch(header: bytes, tag: bytes) -> bool:
    # RFC 9110 13.1.2: a comma-separated list, compared weakly.
    candidates = [candidate.strip() for candidate in header.split(b",")]
    return any(
        candidate == b"*" or candidate.removeprefix(b"W/") == tag
        for candidate in candidates
    )


def _rangeStillValid(header: bytes, tag: bytes, lastModified: int) -> bool:
    # RFC 9110 13.1.5: an entity tag, compared strongly, or the exact
    # Last-Modified date.
    header = header.strip()
    if header.startswith((b'"', b"W/")):
        return header == tag
    try:
        date: int = stringToDatetime(header)
    except ValueError:
        return False
    return date == lastModified


def _notModified(request: IRequest) -> object:
    # Finished here, not by returning b"" as File does: Site would add
    # "Content-Length: 0", which a 304 must not carry (RFC 9110 8.6).
    request.setResponseCode(NOT_MODIFIED)
    request.write(b"")
    request.finish()
    return NOT_DONE_YET


class ValidatedFile(File):
    """
    A C{twisted.web.static.File} whose files carry a strong C{ETag} (see
    L{entityTag}) and a C{Cache-Control} (from L{cacheControl}), on C{200},
    C{206} and C{304} responses alike.

    Conditional requests are answered as RFC 9110 13.2.2 orders them: an
    C{If-None-Match} that matches the tag (weakly, as a list) gets C{304},
    and when one is present C{If-Modified-Since} is ignored; else an
    C{If-Modified-Since} no older than the file gets C{304}.  A C{304} has
    no body and no C{Content-Length}.  A C{Range} (answered C{206} by
    C{File}) whose C{If-Range} names another version of the file gets the
    whole file.  Directory listings, redirects and errors get none of these
    headers.

    A small file (see L{SmallFileCache}) is served from memory while it is
    unchanged on disk; a larger one, and a C{Range} request, stream from
    disk as C{File} serves them.

    The children it finds (the files of a directory, at any depth) are
    L{ValidatedFile}s with the same L{cacheControl} and L{smallFiles}.

    @ivar cacheControl: The C{Cache-Control} of the files, by type.
    @ivar smallFiles: Where the small files' bytes are kept.
    """

    def __init__(
        self,
        path: str,
        defaultType: str = "text/html",
        ignoredExts: Sequence[str] = (),
        registry: Any = None,
        *,
        cacheControl: CacheControl | None = None,
        smallFiles: SmallFileCache | None = None,
    ) -> None:
        """
        @param path: The file or directory to serve.
        @param defaultType: The C{Content-Type} of a file whose extension
            says none.
        @param ignoredExts: Extensions a request may leave out (see
            C{File}).
        @param registry: As for C{File}.
        @param cacheControl: The C{Cache-Control} of the files; L{None}
            for C{CacheControl()}: L{DEFAULT_CACHE_CONTROL} for all.
        @param smallFiles: Where the small files' bytes are kept; L{None}
            for L{DEFAULT_SMALL_FILES}.
        """
        super().__init__(path, defaultType, ignoredExts, registry)
        self.cacheControl = CacheControl() if cacheControl is None else cacheControl
        self.smallFiles = DEFAULT_SMALL_FILES if smallFiles is None else smallFiles

    def createSimilarFile(self, path: str) -> ValidatedFile:
        """
        Make the resource of a child, as C{File} does, with the same
        L{cacheControl}.

        @param path: The child's path.
        @return: Its resource.
        """
        child: ValidatedFile = super().createSimilarFile(path)
        child.cacheControl = self.cacheControl
        child.smallFiles = self.smallFiles
        return child

    def render_GET(self, request: IRequest) -> Any:
        """
        Serve the file, or C{304}, with the validator and cache headers.

        @param request: The request.
        @return: As C{File.render_GET}.
        """
        try:
            status = os.stat(self.path)
        except OSError:
            status = None
        # Anything but a readable regular file is File's to answer.
        if status is None or not stat.S_ISREG(status.st_mode):
            return super().render_GET(request)
        body = self.smallFiles.bodyOf(self.path, status)
        if body is None and not os.access(self.path, os.R_OK):
            return super().render_GET(request)
        if self.type is None:
            self.type, self.encoding = getTypeAndEncoding(
                self.basename(),
                self.contentTypes,
                self.contentEncodings,
                self.defaultType,
            )
        value = self.cacheControl.forType(self.type)
        if value is not None:
            request.setHeader(b"cache-control", value.encode("ascii"))
        tag = entityTag(status.st_size, status.st_mtime_ns)
        headers = request.requestHeaders
        ifNoneMatch = headers.getRawHeaders(b"if-none-match")
        if ifNoneMatch is not None:
            # Ignored then (RFC 9110 13.2.2), by File too, which reads it.
            headers.removeHeader(b"if-modified-since")
        # setETag compares words exactly; _noneMatch as RFC 9110 says.
        matched = request.setETag(tag) is CACHED or bool(
            ifNoneMatch and _noneMatch(b",".join(ifNoneMatch), tag)
        )
        if request.setLastModified(status.st_mtime) is CACHED or matched:
            return _notModified(request)
        ifRange = request.getHeader(b"if-range")
        lastModified = math.ceil(status.st_mtime)
        if ifRange is not None and not _rangeStillValid(ifRange, tag, lastModified):
            headers.removeHeader(b"range")
        if body is None or headers.hasHeader(b"range"):
            return super().render_GET(request)
        # From memory, with the headers File would send.
        request.setHeader(b"accept-ranges", b"bytes")
        self._setContentHeaders(request, len(body))
        return b"" if request.method == b"HEAD" else body

    render_HEAD = render_GET
