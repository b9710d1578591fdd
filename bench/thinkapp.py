"""
An application that thinks before it answers, for the Early Hints bench.

Its pages, C{/t<MS>/} (C{/t0/}, C{/t100/}, C{/t300/}, any whole number of
milliseconds up to L{MAX_THINK_MS}), wait that long (C{reactor.callLater},
as an application waiting for its database does) and only then write their
headers and body.  The page's C{Link: rel=preload} headers go out with that
final response and nothing earlier: whatever reaches the client before the
application answers is the server's doing.

The page links a stylesheet, a blocking script in the head, a web font
(named by the stylesheet's C{@font-face}, and preloaded with C{crossorigin}
as a page does) and two images.  The assets are static files under
C{/static/}, cacheable for a day (C{Cache-Control: public, max-age=86400}),
generated from a fixed seed: text for the stylesheet and script, random
pixels in valid PNGs (incompressible), random bytes behind a WOFF2
signature for the font (which Chromium fetches, then rejects: the text
falls back to a system font).
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from pathlib import Path
from typing import Any, ClassVar

from twisted.internet import reactor
from twisted.internet.interfaces import IDelayedCall
from twisted.web.resource import NoResource, Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import File

SEED = 15
MAX_THINK_MS = 10_000
CACHE_CONTROL = b"public, max-age=86400"

STATIC = "/static/"
STYLE = "/static/style.css"
SCRIPT = "/static/app.js"
FONT = "/static/font.woff2"
HERO = "/static/hero.png"
LOGO = "/static/logo.png"

ASSETS: tuple[tuple[str, str], ...] = (
    (STYLE, "style"),
    (SCRIPT, "script"),
    (FONT, "font"),
    (HERO, "image"),
    (LOGO, "image"),
)
"""Every asset of the page with its C{as} type, in the order it is linked."""

STYLE_BYTES = 30_000
SCRIPT_BYTES = 60_000
FONT_BYTES = 40_000
HERO_SIZE = (160, 128)  # 61,440 bytes of pixels
LOGO_SIZE = (64, 64)  # 12,288 bytes of pixels


def preloadLink(path: str, asType: str) -> str:
    """The C{Link} field value preloading one asset (fonts with crossorigin)."""
    value = f"<{path}>; rel=preload; as={asType}"
    if asType == "font":
        value += '; type="font/woff2"; crossorigin'
    return value


def pagePath(thinkMs: int) -> str:
    """The path of the page that thinks C{thinkMs} milliseconds."""
    return f"/t{thinkMs}/"


def manifestMapping(thinkTimes: list[int]) -> dict[str, list[dict[str, str]]]:
    """A txpush manifest naming every asset of each page."""
    return {pagePath(t): [{"path": p, "as": a} for p, a in ASSETS] for t in thinkTimes}


def _text(rng: random.Random, size: int, line: Any) -> bytes:
    out = bytearray()
    number = 0
    while len(out) < size:
        out += line(rng, number).encode()
        number += 1
    return bytes(out[:size]).rsplit(b"\n", 1)[0] + b"\n"


def _cssRule(rng: random.Random, number: int) -> str:
    return (
        f".c{number} {{ margin: {rng.randint(0, 40)}px {rng.randint(0, 40)}px; "
        f"color: #{rng.randrange(1 << 24):06x}; "
        f"padding: {rng.randint(0, 9)}px; }}\n"
    )


def _jsLine(rng: random.Random, number: int) -> str:
    return (
        f"function f{number}(a) {{ return a * {rng.randint(1, 999)} + "
        f"{rng.randint(1, 999)}; }}\n"
    )


def _png(rng: random.Random, width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def writeAssets(directory: Path) -> dict[str, int]:
    """
    Write the assets into C{directory} (its C{static/} files); the same
    bytes every time.

    @return: Each asset's path with its size in bytes.
    """
    rng = random.Random(SEED)
    static = directory / "static"
    static.mkdir(parents=True, exist_ok=True)
    fontFace = (
        "@font-face { font-family: Bench; font-display: swap; "
        f'src: url("{FONT}") format("woff2"); }}\n'
        "body { font-family: Bench, sans-serif; margin: 2em; }\n"
    )
    files = {
        STYLE: fontFace.encode() + _text(rng, STYLE_BYTES - len(fontFace), _cssRule),
        SCRIPT: _text(rng, SCRIPT_BYTES, _jsLine)
        + b'document.documentElement.dataset.script = "ran";\n',
        FONT: b"wOF2" + rng.randbytes(FONT_BYTES - 4),
        HERO: _png(rng, *HERO_SIZE),
        LOGO: _png(rng, *LOGO_SIZE),
    }
    for path, data in files.items():
        (directory / path.lstrip("/")).write_bytes(data)
    return {path: len(data) for path, data in files.items()}


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Early Hints bench: {think} ms</title>
<link rel="stylesheet" href="{style}">
<link rel="preload" href="{font}" as="font" type="font/woff2" crossorigin>
<script src="{script}"></script>
</head>
<body>
<h1>A page that thought for {think} ms</h1>
<p>{text}</p>
<img src="{hero}" width="160" height="128" alt="hero">
<img src="{logo}" width="64" height="64" alt="logo">
</body>
</html>
"""


def pageBody(thinkMs: int) -> bytes:
    """The HTML of the page C{/t<thinkMs>/}."""
    text = "Early hints pay off while the application thinks. " * 40
    return PAGE.format(
        think=thinkMs,
        style=STYLE,
        font=FONT,
        script=SCRIPT,
        hero=HERO,
        logo=LOGO,
        text=text.strip(),
    ).encode()


class ThinkingPage(Resource):
    """
    A page that answers C{thinkMs} milliseconds after its request arrived,
    with its preload C{Link} headers.

    @ivar log: Where each request's arrival and answer times go (seconds of
        the reactor's clock), for the bench's server-side figures.
    """

    isLeaf = True

    def __init__(self, thinkMs: int, log: list[dict[str, Any]]) -> None:
        super().__init__()
        self.thinkMs = thinkMs
        self.log = log

    def render_GET(self, request: Request) -> object:
        arrived = reactor.seconds()
        call: IDelayedCall = reactor.callLater(
            self.thinkMs / 1000, self._answer, request, arrived
        )

        def gone(_: object) -> None:
            if call.active():
                call.cancel()

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    def _answer(self, request: Request, arrived: float) -> None:
        body = pageBody(self.thinkMs)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        for path, asType in ASSETS:
            request.responseHeaders.addRawHeader(
                b"link", preloadLink(path, asType).encode()
            )
        request.setHeader(b"content-length", str(len(body)).encode())
        self.log.append(
            {
                "path": request.path.decode("ascii", "replace"),
                "arrived": arrived,
                "answered": reactor.seconds(),
            }
        )
        request.write(body)
        request.finish()


class CachedFile(File):
    """A static file served with C{Cache-Control: public, max-age=86400}."""

    contentTypes: ClassVar[dict[str, str]] = {
        **File.contentTypes,
        ".woff2": "font/woff2",
    }

    def render_GET(self, request: Request) -> object:
        request.setHeader(b"cache-control", CACHE_CONTROL)
        return super().render_GET(request)


class ThinkApp(Resource):
    """
    The application: C{/t<MS>/} pages, C{/static/} assets.

    @ivar log: The pages' arrival and answer times.
    """

    _PAGE = re.compile(rb"t(\d+)")

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.log: list[dict[str, Any]] = []
        self.putChild(b"static", CachedFile(str(directory / "static")))

    def getChild(self, path: bytes, request: Request) -> Resource:
        match = self._PAGE.fullmatch(path)
        if match is None or int(match.group(1)) > MAX_THINK_MS:
            return NoResource()
        return ThinkingPage(int(match.group(1)), self.log)
