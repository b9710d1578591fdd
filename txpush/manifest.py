"""
Push manifests: which assets each page of a site needs, in a JSON file.

A manifest maps page paths to lists of assets; an asset is a path, whose
type is guessed from its extension, or an object with a C{"path"} and an
optional C{"as"}::

    {
        "/index.html": ["/style.css", "/app.js"],
        "/about/": ["/style.css", {"path": "/font.woff2", "as": "font"}]
    }

L{loadManifest} reads one and checks all of it, so that a mistake is
reported once, when the site starts, with the file and line to fix, rather
than as pushes that silently never happen.
"""

import codecs
import difflib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import attrs

from txpush.assets import Asset, asTypeProblem, guessAsType, pathProblem
from txpush.linkheader import OtherOrigin

_ASSET_KEYS = frozenset({"path", "as"})
_PRECONNECT_KEYS = frozenset({"preconnect", "crossorigin"})
_EXAMPLE_PRECONNECT = '{"preconnect": "https://fonts.example", "crossorigin": true}'
# An origin: http or https, a host name or bracketed address, a port; a
# trailing "/" is allowed.
_ORIGIN = re.compile(
    r"((?:[Hh][Tt][Tt][Pp][Ss]?)://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?)/?"
)
_EXAMPLE_OBJECT = '{"path": "/font.woff2", "as": "font"}'


class ManifestError(ValueError):
    """
    A push manifest cannot be used.  The message is one line that names the
    file and the line, where known, says what is wrong and what to do::

        manifest.json, line 3: asset "style.css" of page "/index.html" is
        not an absolute path: write it as "/style.css"

    @ivar path: The manifest file, or L{None} for L{Manifest.fromMapping}.
    @ivar line: The line of the mistake (from 1), or L{None} when it is not
        known or not about a line.  Apart from JSON syntax errors, whose line
        the JSON decoder gives, it is found by searching the text for what is
        wrong (see L{loadManifest}), so it may be off when the same text
        appears several times.
    @ivar reason: The message without the file and line.
    """

    def __init__(
        self, reason: str, path: Path | None = None, line: int | None = None
    ) -> None:
        """
        @param reason: What is wrong and what to do.
        @param path: The manifest file, if any.
        @param line: The line of the mistake, if known.
        """
        self.reason = reason
        self.path = path
        self.line = line
        where = "" if path is None else str(path)
        if line is not None:
            where = f"{where}, line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {reason}" if where else reason)


def _readOnly(
    assetsByPage: Mapping[bytes, Sequence[Asset]],
) -> Mapping[bytes, tuple[Asset, ...]]:
    return MappingProxyType(
        {page: tuple(assets) for page, assets in assetsByPage.items()}
    )


def _readOnlyLines(
    lines: Mapping[tuple[bytes, bytes], int],
) -> Mapping[tuple[bytes, bytes], int]:
    return MappingProxyType(dict(lines))


def _readOnlyOrigins(
    originsByPage: Mapping[bytes, Sequence[OtherOrigin]],
) -> Mapping[bytes, tuple[OtherOrigin, ...]]:
    return MappingProxyType(
        {page: tuple(origins) for page, origins in originsByPage.items()}
    )


def _checkPages(
    instance: object,
    attribute: "attrs.Attribute[Mapping[bytes, tuple[Asset, ...]]]",
    assetsByPage: Mapping[bytes, tuple[Asset, ...]],
) -> None:
    for page, assets in assetsByPage.items():
        if not isinstance(page, bytes):
            raise TypeError(f"page path must be bytes, not {type(page).__name__}")
        problem = _pageProblem(page)
        if problem is not None:
            shown = _shown(page.decode("ascii", "replace"))
            raise ValueError(f"page {shown} {problem}")
        for asset in assets:
            if not isinstance(asset, Asset):
                raise TypeError(f"assets must be Asset, not {type(asset).__name__}")


@attrs.frozen
class Manifest:
    """
    The assets of each page of a site.

    L{assetsFor} finds a page's assets by its path, without the query: the
    key that is the path itself, or else, for a path that ends in C{/}, the
    key that is that path followed by C{index.html}, which is the file
    C{twisted.web.static.File} serves for a directory.  So
    C{"/docs/index.html"} gives its assets to both C{/docs/} and
    C{/docs/index.html}, while a C{"/docs/"} key gives them to C{/docs/}
    alone.  Keys are compared as bytes, exactly: no case folding and no
    percent-decoding (a request's path is percent-encoded as the client sent
    it).

    Make one with L{loadManifest} or L{Manifest.fromMapping}, which check
    every entry.

    @ivar assetsByPage: Each page path (an absolute path without query)
        with its assets, in order; read-only.  (L{loadManifest} and
        L{Manifest.fromMapping} keep each asset of a page once.)
    @ivar sourceFile: The manifest file, as given to L{loadManifest}, or
        L{None}.  Like C{assetLines}, it is for messages (see L{sourceOf})
        and takes no part in comparisons: two manifests with the same
        assets are equal wherever they were read from.
    @ivar assetLines: The line (from 1) of the entry of each C{(page path,
        asset path)} of the file, where L{loadManifest} found it; read-only.
    @ivar preconnectsByPage: Each page path with the other sites' origins
        its entry names for C{rel=preconnect} hints (entries such as
        C{{"preconnect": "https://fonts.example", "crossorigin": true}}), in
        order; read-only, and only for pages that name one.
    """

    assetsByPage: Mapping[bytes, tuple[Asset, ...]] = attrs.field(
        factory=dict, converter=_readOnly, validator=_checkPages, hash=False
    )
    sourceFile: str | None = attrs.field(default=None, eq=False)
    assetLines: Mapping[tuple[bytes, bytes], int] = attrs.field(
        factory=dict, converter=_readOnlyLines, eq=False
    )
    preconnectsByPage: Mapping[bytes, tuple[OtherOrigin, ...]] = attrs.field(
        factory=dict, converter=_readOnlyOrigins, hash=False
    )

    @classmethod
    def fromMapping(
        cls, mapping: Mapping[str, Sequence[str | Mapping[str, str]]]
    ) -> "Manifest":
        """
        Make a manifest from the data of a JSON manifest.

        @param mapping: Each page path with its assets, each a path (type
            guessed with L{guessAsType<txpush.assets.guessAsType>}) or a
            mapping with a C{"path"} and an optional C{"as"}.
        @return: The manifest.  An asset listed twice for one page is kept
            once, where it first appears.
        @raise ManifestError: An entry is not of that shape, or a path is
            not an absolute path of the site (see L{loadManifest}); the
            message has no file or line.
        """
        return _Reader(None, None, None).read(mapping)

    @property
    def pages(self) -> tuple[bytes, ...]:
        """
        The page paths that have an entry, in the manifest's order.
        """
        return tuple(self.assetsByPage)

    def __len__(self) -> int:
        """
        @return: How many pages have an entry.
        """
        return len(self.assetsByPage)

    def assetsFor(self, pagePath: bytes) -> tuple[Asset, ...]:
        """
        Find the assets of a page, as the class docstring describes.

        @param pagePath: The page's path as requested, query allowed
            (C{request.uri} or C{request.path}).
        @return: Its assets, in order; empty when it has no entry.
        """
        key = self._pageKey(pagePath)
        return () if key is None else self.assetsByPage[key]

    def preconnectsFor(self, pagePath: bytes) -> tuple[OtherOrigin, ...]:
        """
        Find the other origins a page's entry names, as L{assetsFor} finds
        its assets.

        @param pagePath: The page's path as requested, query allowed.
        @return: The origins, in order; empty when it names none.
        """
        key = self._pageKey(pagePath)
        return () if key is None else self.preconnectsByPage.get(key, ())

    def sourceOf(self, pagePath: bytes, assetPath: bytes) -> str | None:
        """
        Say where an asset of a page comes from, for messages such as a
        push that the site answered with an error.

        @param pagePath: The page's path as requested, query allowed; its
            entry is found as L{assetsFor} finds it.
        @param assetPath: The asset's path as in its L{Asset}, query
            included.
        @return: C{"<file>, line <n>"}, or the file alone when the line is
            not known, or C{"the manifest"} for a manifest made without a
            file; L{None} when the page's entry does not list that asset.
        """
        key = self._pageKey(pagePath)
        if key is None or not any(
            asset.path == assetPath for asset in self.assetsByPage[key]
        ):
            return None
        if self.sourceFile is None:
            return "the manifest"
        line = self.assetLines.get((key, assetPath))
        return self.sourceFile if line is None else f"{self.sourceFile}, line {line}"

    def _pageKey(self, pagePath: bytes) -> bytes | None:
        # The key of a requested page's entry, or None.
        path = pagePath.split(b"?", 1)[0]
        if path in self.assetsByPage:
            return path
        if path.endswith(b"/") and path + b"index.html" in self.assetsByPage:
            return path + b"index.html"
        return None


def _shown(text: str) -> str:
    # As it would be written in the manifest.
    return json.dumps(text, ensure_ascii=False)


def _pageProblem(page: bytes) -> str | None:
    if b"?" in page:
        return "has a query, which manifests do not match: write " + _shown(
            page.split(b"?", 1)[0].decode("ascii", "replace")
        )
    return pathProblem(page)


def _describe(value: object) -> str:
    # The JSON name of a value's type, for messages.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def _isList(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuseDuplicateKeys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would silently keep the last of two equal keys, losing a
    # page's assets; say so instead.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


class _Lines:
    """
    The text of a manifest, searched for the line of a mistake.

    The heuristic: each page key is searched as its JSON string followed by
    a colon, and each entry as its JSON string (or the JSON of its value),
    from the line of the page or the entry before it on, since the JSON
    decoder keeps the file's order.  A search that finds nothing gives no
    line.
    """

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self.cursor = 0

    def _find(self, pattern: re.Pattern[str], start: int) -> int | None:
        for index in range(start, len(self._lines)):
            if pattern.search(self._lines[index]):
                return index
        return None

    def find(self, value: object, key: bool = False) -> int | None:
        """
        Find the first line from the cursor on that holds C{value} in JSON,
        move the cursor there, and return its number (from 1).
        """
        if isinstance(value, str):
            forms = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
        elif isinstance(value, Mapping):
            forms = {"{"}
        elif _isList(value):
            forms = {"["}
        else:
            try:
                forms = {json.dumps(value)}
            except (TypeError, ValueError):
                return None
        suffix = r"\s*:" if key else ""
        pattern = re.compile(
            "|".join(re.escape(form) + suffix for form in sorted(forms))
        )
        index = self._find(pattern, self.cursor)
        if index is None:
            return None
        self.cursor = index
        return index + 1

    def firstContent(self) -> int | None:
        """
        The number of the first line that is not blank.
        """
        index = self._find(re.compile(r"\S"), 0)
        return None if index is None else index + 1


class _Reader:
    """
    Checks the data of a manifest and makes the L{Manifest}, with the file,
    its text and the site root to report and check against.
    """

    def __init__(
        self,
        path: Path | None,
        lines: _Lines | None,
        siteRoot: Path | None,
        requireFiles: bool = False,
    ) -> None:
        self._manifestPath = path
        self._lines = lines
        self._siteRoot = None if siteRoot is None else siteRoot.resolve()
        self._requireFiles = requireFiles
        self._siteFiles: _SiteFiles | None = None

    def _error(self, reason: str, line: int | None) -> ManifestError:
        return ManifestError(reason, self._manifestPath, line)

    def _line(self, value: object, key: bool = False) -> int | None:
        return None if self._lines is None else self._lines.find(value, key)

    def read(self, data: object) -> Manifest:
        if not isinstance(data, Mapping):
            line = None if self._lines is None else self._lines.firstContent()
            raise self._error(
                f"the manifest is {_describe(data)}, not an object: write "
                '{"/page.html": ["/style.css", ...], ...}',
                line,
            )
        assetsByPage = {}
        assetLines: dict[tuple[bytes, bytes], int] = {}
        preconnects: dict[bytes, tuple[OtherOrigin, ...]] = {}
        for page, entries in data.items():
            line = self._line(page, key=True) if isinstance(page, str) else None
            pagePath = self._page(page, line)
            if not _isList(entries):
                raise self._error(
                    f"the assets of page {_shown(page)} are {_describe(entries)}, "
                    'not a list: write ["/style.css", ...]',
                    line,
                )
            assets: dict[bytes, Asset] = {}
            origins: dict[bytes, OtherOrigin] = {}
            for entry in entries:
                if isinstance(entry, Mapping) and "preconnect" in entry:
                    other = self._preconnect(page, entry)
                    origins.setdefault(other.origin, other)
                    continue
                asset, assetLine = self._asset(page, entry)
                if asset.path not in assets:
                    assets[asset.path] = asset
                    if assetLine is not None:
                        assetLines[pagePath, asset.path] = assetLine
            assetsByPage[pagePath] = tuple(assets.values())
            if origins:
                preconnects[pagePath] = tuple(origins.values())
        source = None if self._manifestPath is None else str(self._manifestPath)
        return Manifest(assetsByPage, source, assetLines, preconnects)

    def _preconnect(self, page: str, entry: Mapping[str, object]) -> OtherOrigin:
        origin = entry.get("preconnect")
        line = self._line(origin)
        unknown = sorted(set(entry) - _PRECONNECT_KEYS, key=str)
        if unknown:
            raise self._error(
                f"a preconnect of page {_shown(page)} has unknown key "
                f'{_shown(str(unknown[0]))}: give only "preconnect" and '
                f'"crossorigin", as in {_EXAMPLE_PRECONNECT}',
                line,
            )
        crossOrigin = entry.get("crossorigin", False)
        if not isinstance(crossOrigin, bool):
            raise self._error(
                f'the "crossorigin" of a preconnect of page {_shown(page)} is '
                f"{_describe(crossOrigin)}, not true or false",
                line,
            )
        match = None if not isinstance(origin, str) else _ORIGIN.fullmatch(origin)
        if match is None:
            shown = _shown(origin) if isinstance(origin, str) else _describe(origin)
            raise self._error(
                f"preconnect {shown} of page {_shown(page)} is not the origin of "
                'another site: write its scheme and host alone, as "https://'
                'fonts.example" (an asset of this site needs no preconnect)',
                line,
            )
        return OtherOrigin(match[1].lower().encode("ascii"), crossOrigin)

    def _page(self, page: object, line: int | None) -> bytes:
        if not isinstance(page, str):
            raise self._error(
                f"page {page!r} is {_describe(page)}, not a path: write it as a "
                'string such as "/index.html"',
                line,
            )
        path = self._encoded(f"page {_shown(page)}", page, line)
        problem = _pageProblem(path)
        if problem is not None:
            raise self._error(f"page {_shown(page)} {problem}", line)
        self._checkInsideSite(f"page {_shown(page)}", path, line, page=True)
        return path

    def _fields(
        self, page: str, entry: object, line: int | None
    ) -> tuple[str, str | None]:
        # The path and the "as" (None when absent) of an entry of any shape.
        if isinstance(entry, str):
            return entry, None
        if not isinstance(entry, Mapping):
            raise self._error(
                f"an asset of page {_shown(page)} is {_describe(entry)}, not a "
                f'path or an object: write "/style.css" or {_EXAMPLE_OBJECT}',
                line,
            )
        unknown = sorted(set(entry) - _ASSET_KEYS, key=str)
        if unknown:
            raise self._error(
                f"an asset of page {_shown(page)} has unknown key "
                f'{_shown(str(unknown[0]))}: give only "path" and "as", '
                f"as in {_EXAMPLE_OBJECT}",
                line,
            )
        path = entry.get("path")
        if not isinstance(path, str):
            raise self._error(
                f"an asset of page {_shown(page)} is an object without a "
                f'string "path": write it as {_EXAMPLE_OBJECT}',
                line,
            )
        asType = entry.get("as")
        if "as" in entry and not isinstance(asType, str):
            raise self._error(
                f'the "as" of asset {_shown(path)} of page {_shown(page)} is '
                f'{_describe(asType)}, not a string: write a string such as "font", '
                'or leave "as" out to guess it',
                line,
            )
        return path, asType

    def _asset(self, page: str, entry: object) -> tuple[Asset, int | None]:
        # The asset, with the line of its entry when known.
        needle = entry
        if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
            needle = entry["path"]
        line = self._line(needle)
        rawPath, rawAsType = self._fields(page, entry, line)
        what = f"asset {_shown(rawPath)} of page {_shown(page)}"
        path = self._encoded(what, rawPath, line)
        problem = pathProblem(path)
        if problem is not None:
            raise self._error(f"{what} {problem}", line)
        if rawAsType is None:
            asType = guessAsType(path)
        else:
            asType = rawAsType.lower()
            problem = asTypeProblem(asType)
            if problem is not None:
                raise self._error(
                    f'the "as" of {what}, {_shown(rawAsType)}, {problem}', line
                )
        self._checkInsideSite(what, path, line, page=False)
        return Asset(path, asType), line

    def _encoded(self, what: str, text: str, line: int | None) -> bytes:
        try:
            return text.encode("ascii")
        except UnicodeEncodeError:
            raise self._error(
                f"{what} holds non-ASCII characters: percent-encode them, as "
                + _shown(quote(text, safe="/?&=:@!$'()*+~%")),
                line,
            ) from None

    def _checkInsideSite(
        self, what: str, path: bytes, line: int | None, page: bool
    ) -> None:
        if self._siteRoot is None:
            return
        relative = unquote_to_bytes(path.split(b"?", 1)[0]).lstrip(b"/")
        try:
            target = (self._siteRoot / os.fsdecode(relative)).resolve()
            inside = target.is_relative_to(self._siteRoot)
        except (OSError, RuntimeError, ValueError):
            # A NUL, a loop of symbolic links: nothing a site could serve.
            target, inside = None, False
        if not inside:
            found = "" if target is None else f" resolves to {target}, which"
            raise self._error(
                f"{what}{found} is outside the site root {self._siteRoot}: move "
                "the file into the site, or drop the entry",
                line,
            )
        if self._requireFiles and target is not None:
            problem = self._missingProblem(path, target, page)
            if problem is not None:
                raise self._error(f"{what} {problem}", line)

    def _missingProblem(self, path: bytes, target: Path, page: bool) -> str | None:
        # Why the site serves nothing there, as static.File would serve it.
        written = path.split(b"?", 1)[0].decode("ascii")
        if page and written.endswith("/"):
            if target.is_dir():
                if _hasIndex(target):
                    return None
                return (
                    f"names a directory without an index.html, which is served "
                    f"as a directory listing: add {target / 'index.html'}, or "
                    "name a page of the site"
                )
        elif target.is_file():
            return None
        elif target.is_dir():
            if page:
                return (
                    "names a directory, which is redirected to its path with a "
                    f"/ at the end: write {_shown(written + '/')}"
                )
            return "names a directory, not a file: name a file of the site"
        if self._siteFiles is None:
            assert self._siteRoot is not None
            self._siteFiles = _SiteFiles(self._siteRoot)
        near = self._siteFiles.nearest(written, page)
        hint = "" if near is None else f"did you mean {_shown(near)}? "
        return (
            f"names no file of the site root {self._siteRoot}: {hint}fix the "
            "path, add the file, or drop the entry"
        )


_INDEX_NAMES = ("index.html", "index.htm", "index")
"""What C{twisted.web.static.File} serves for a directory, other than Python
scripts (C{index.rpy}), which a manifest's site does not run."""

_MAX_WALKED = 20000
"""The most directory entries looked at for a suggestion: a huge site is
not walked whole for a message."""

# Characters a suggestion writes as they are; the rest are percent-encoded,
# as pathProblem wants them.
_SAFE = "/!$&'()*+=:@~"


def _hasIndex(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _INDEX_NAMES)


class _SiteFiles:
    """
    The paths a site serves, as a manifest writes them, for suggestions: its
    files, and its directories with an index (with a C{/} at the end), as
    many as L{_MAX_WALKED} entries give.
    """

    def __init__(self, root: Path) -> None:
        self.files: list[str] = []
        self.directories: list[str] = []
        walked = 0
        # os.walk does not follow links to directories: no loops.
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            walked += len(subdirectories) + len(names)
            relative = Path(directory).relative_to(root).as_posix()
            prefix = "/" if relative == "." else f"/{quote(relative, safe=_SAFE)}/"
            if set(names) & set(_INDEX_NAMES):
                self.directories.append(prefix)
            self.files.extend(prefix + quote(name, safe=_SAFE) for name in names)
            if walked >= _MAX_WALKED:
                break

    def nearest(self, path: str, page: bool) -> str | None:
        """
        The served path closest to C{path}, if one is close.

        @param path: A path, percent-encoded, without query.
        @param page: Whether directories with an index count.
        """
        candidates = self.files + self.directories if page else self.files
        found = difflib.get_close_matches(path, candidates, n=1, cutoff=0.6)
        return found[0] if found else None


def loadManifest(
    path: str | os.PathLike[str],
    siteRoot: str | os.PathLike[str] | None = None,
    *,
    requireFiles: bool = False,
) -> Manifest:
    """
    Read a push manifest from a JSON file.

    The file is UTF-8 (a byte order mark is allowed) and holds one JSON
    object, as the module docstring shows; C{{}} is a valid, empty manifest.
    Page keys and asset paths must be absolute paths (with a query for
    assets only), in ASCII (percent-encode the rest), that stay in the site:
    no C{.} or C{..} segments or backslashes, even percent-encoded; see
    L{pathProblem<txpush.assets.pathProblem>} for the whole rule.  C{"as"}
    values are lower-cased.  A page key may appear only once.

    Every mistake is a L{ManifestError} whose message names the file and,
    where there is one, the line.  For mistakes in the shape or the values
    of the JSON, the line is found by a search of the text (the page key,
    then the offending entry from there on): it is right for manifests that
    list each entry once, but may point at an earlier line when an entry's
    text appears several times.

    @param path: The manifest file, as a L{str} or a path object.
    @param siteRoot: The directory the site serves (a L{str} or a path
        object), if any: then every page
        and asset path, percent-decoded and with symbolic links followed,
        must name a file (existing or not) inside it.
    @param requireFiles: With C{siteRoot}, also refuse a path that names
        nothing the site serves as C{twisted.web.static.File} serves it: an
        asset must name a file, and a page a file or, when it ends with
        C{/}, a directory with an C{index.html} (or C{index.htm} or
        C{index}).  The message suggests the closest path the site has, if
        one is close.
    @return: The manifest.
    @raise ManifestError: The file cannot be read, is not UTF-8 or JSON, is
        not of the manifest's shape, or names a path that is invalid or
        outside the site, or, with C{requireFiles}, not in it.
    @raise ValueError: C{requireFiles} is given without C{siteRoot}.
    """
    if requireFiles and siteRoot is None:
        raise ValueError("requireFiles needs a siteRoot to look for files in")
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ManifestError(
            f"cannot read the push manifest ({error.strerror or error}): check "
            "the path given with --push-manifest",
            path,
        ) from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ManifestError(
            f"not UTF-8 text (byte 0x{raw[error.start]:02x}): save the file as UTF-8",
            path,
            raw.count(b"\n", 0, error.start) + 1,
        ) from None
    lines = _Lines(text)
    try:
        data = json.loads(text, object_pairs_hook=_refuseDuplicateKeys)
    except json.JSONDecodeError as error:
        raise ManifestError(
            f"not valid JSON ({error.msg} at column {error.colno}): fix the syntax",
            path,
            error.lineno,
        ) from None
    except _DuplicateKeyError as error:
        # The second occurrence is the one to report.
        first = lines.find(error.key, key=True)
        if first is not None:
            lines.cursor += 1
        second = lines.find(error.key, key=True)
        raise ManifestError(
            f"key {_shown(error.key)} appears twice in one object: merge the "
            "two entries into one",
            path,
            second if second is not None else first,
        ) from None
    except RecursionError:
        raise ManifestError(
            "the JSON is nested too deeply: a manifest is an object of lists",
            path,
        ) from None
    root = None if siteRoot is None else Path(siteRoot)
    return _Reader(path, lines, root, requireFiles).read(data)
