"""
The benchmark's site: one page and its assets, generated from a fixed seed.

The page is shaped like the median page of the web: its bytes per type
(HTML, stylesheets, scripts, web fonts, images) are HTTP Archive's medians
for the mobile home page in the Web Almanac 2025 (Page Weight chapter, July
2025 crawl), and its ten assets cover the four types.  A real median page
has about 45 such requests (8 stylesheets, 22 scripts, 3 fonts, 12 images);
the counts here are scaled down to ten, the most assets txpush pushes for
one page by default, so that every push server can push the whole page;
the bytes of each type are kept.

The HTML links every asset the way a browser (and C{nghttp -a}) finds it:
stylesheets and deferred scripts in the head, the fonts as
C{<link rel=preload as=font>} (a real page names them in its CSS, which
nghttp does not read; the stylesheets name them too), the images as
C{<img>} in the body.  The push manifest names the same ten assets for
C{/index.html}, in the page's order.

Stylesheets and scripts are text, as compressible as real ones; images and
fonts are seeded random bytes behind their format's signature (JPEG, WebP
and PNG markers, a WOFF2 header), as incompressible as real ones and not
decodable.  No server of the benchmark compresses responses.  The same seed
always gives the same bytes, so every run and every server serves an
identical site.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 6
PAGE = "/index.html"

# HTTP Archive, Web Almanac 2025, Page Weight chapter: median bytes per
# content type of the mobile home page (July 2025 crawl), KB taken as 1,000
# bytes.  Medians of each type, so they do not add up to the median page.
MEDIAN_KB = {"html": 22, "css": 77, "font": 122, "js": 632, "image": 911}
# The same chapter: median requests of the mobile page by type.
MEDIAN_REQUESTS = {"css": 8, "js": 22, "font": 3, "image": 12}

PAGE_SIZE = MEDIAN_KB["html"] * 1000

# (path, size in bytes) in the page's order: stylesheets and fonts first, as
# a browser needs them first, then scripts, then images.  The sizes of each
# type add up to its median above.
ASSETS = (
    ("/css/site.css", 52_000),
    ("/css/components.css", 25_000),
    ("/fonts/text.woff2", 64_000),
    ("/fonts/headings.woff2", 58_000),
    ("/js/vendor.js", 310_000),
    ("/js/app.js", 214_000),
    ("/js/widgets.js", 108_000),
    ("/img/hero.jpg", 512_000),
    ("/img/product.webp", 296_000),
    ("/img/logo.png", 103_000),
)

TYPES = ("css", "js", "font", "image")
"""The asset types, in the order of the reports."""

_TYPE_OF_EXTENSION = {
    "css": "css",
    "js": "js",
    "woff2": "font",
    "jpg": "image",
    "webp": "image",
    "png": "image",
}

_AS = {"css": "style", "js": "script", "font": "font", "image": "image"}

_WORDS = (
    "push",
    "cache",
    "digest",
    "stream",
    "frame",
    "header",
    "window",
    "server",
    "client",
    "page",
    "asset",
    "style",
    "script",
    "latency",
    "round",
    "trip",
    "promise",
    "settings",
    "priority",
    "connection",
    "twisted",
    "reactor",
    "deferred",
    "resource",
    "request",
    "response",
    "cookie",
    "early",
    "hints",
)


def typeOf(path: str) -> str:
    """
    The type of an asset, from its extension.

    @param path: An asset's URL path.
    @return: One of L{TYPES}.
    """
    return _TYPE_OF_EXTENSION[path.rsplit(".", 1)[-1]]


def asOf(path: str) -> str:
    """The C{as} value of an asset's preload link."""
    return _AS[typeOf(path)]


@dataclass(frozen=True)
class Site:
    """
    A generated site on disk.

    @ivar root: The directory to serve.
    @ivar manifest: The push manifest (JSON), outside the served directory.
    @ivar assets: The asset paths, in the page's order.
    @ivar sizes: The size in bytes of every file, by URL path.
    """

    root: Path
    manifest: Path
    assets: tuple[str, ...]
    sizes: dict[str, int]

    @property
    def assetBytes(self) -> int:
        """The size of all the assets together."""
        return sum(self.sizes[path] for path in self.assets)

    @property
    def types(self) -> dict[str, str]:
        """The type of every asset, by URL path."""
        return {path: typeOf(path) for path in self.assets}


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def _filled(size: int, piece: Callable[[], str]) -> str:
    # Pieces until there are size characters, cut to size.
    pieces = []
    length = 0
    while length < size:
        pieces.append(piece())
        length += len(pieces[-1])
    return "".join(pieces)[:size]


def _fontFaces() -> str:
    # The fonts, named where a real page names them.
    return "".join(
        f'@font-face {{ font-family: "f{index}"; font-display: swap;'
        f' src: url("{path}") format("woff2"); }}\n'
        for index, (path, _) in enumerate(ASSETS)
        if typeOf(path) == "font"
    )


def _stylesheet(rng: random.Random, size: int, fonts: bool) -> bytes:
    head = _fontFaces() if fonts else ""
    return (
        head
        + _filled(
            size - len(head),
            lambda: (
                f".c{rng.getrandbits(32):08x} {{ margin: {rng.randrange(40)}px; "
                f"color: #{rng.getrandbits(24):06x}; "
                f"font-size: {rng.randrange(8, 40)}px; }}\n"
            ),
        )
    ).encode("ascii")


def _script(rng: random.Random, size: int) -> bytes:
    return _filled(
        size,
        lambda: (
            f"function f{rng.getrandbits(32):08x}(a, b) "
            f"{{ return a * {rng.randrange(1000)} + b; }}\n"
            f"// {_words(rng, 8)}\n"
        ),
    ).encode("ascii")


def _jpeg(rng: random.Random, size: int) -> bytes:
    # Start of image and a JFIF APP0 segment, entropy-coded-like bytes, end
    # of image.
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    tail = b"\xff\xd9"
    return head + rng.randbytes(size - len(head) - len(tail)) + tail


def _webp(rng: random.Random, size: int) -> bytes:
    # A RIFF container holding one lossy VP8 chunk.
    return (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WEBPVP8 "
        + struct.pack("<I", size - 20)
        + rng.randbytes(size - 20)
    )


def _pngChunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
    )


def _png(rng: random.Random, size: int) -> bytes:
    # Signature, IHDR (256 x 256, 8-bit RGBA), one IDAT, IEND.
    head = b"\x89PNG\r\n\x1a\n" + _pngChunk(
        b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 6, 0, 0, 0)
    )
    tail = _pngChunk(b"IEND", b"")
    data = rng.randbytes(size - len(head) - len(tail) - 12)
    return head + _pngChunk(b"IDAT", data) + tail


def _woff2(rng: random.Random, size: int) -> bytes:
    # The WOFF2 signature, the TrueType flavour and the file's length.
    head = b"wOF2" + b"\x00\x01\x00\x00" + struct.pack(">I", size)
    return head + rng.randbytes(size - len(head))


_BINARY = {"jpg": _jpeg, "webp": _webp, "png": _png, "woff2": _woff2}


def _asset(rng: random.Random, path: str, size: int, first: bool) -> bytes:
    extension = path.rsplit(".", 1)[-1]
    if extension == "css":
        return _stylesheet(rng, size, fonts=first)
    if extension == "js":
        return _script(rng, size)
    return _BINARY[extension](rng, size)


def _page(rng: random.Random, size: int) -> str:
    head = [
        "<!DOCTYPE html>",
        "<html><head><meta charset=utf-8>",
        "<title>bench</title>",
    ]
    images = []
    for path, _ in ASSETS:
        kind = typeOf(path)
        if kind == "css":
            head.append(f'<link rel="stylesheet" href="{path}">')
        elif kind == "font":
            head.append(
                f'<link rel="preload" href="{path}" as="font"'
                ' type="font/woff2" crossorigin>'
            )
        elif kind == "js":
            head.append(f'<script src="{path}" defer></script>')
        else:
            images.append(f'<p><img src="{path}" alt="{_words(rng, 3)}"></p>\n')
    head.append("</head><body>")
    text = "\n".join(head) + "\n" + images[0]
    tail = "".join(images[1:]) + "</body></html>\n"
    paragraphs = []
    length = len(text) + len(tail)
    while length < size:
        paragraph = f"<p>{_words(rng, 40)}</p>\n"
        paragraphs.append(paragraph)
        length += len(paragraph)
    body = "".join(paragraphs)[: size - len(text) - len(tail)]
    # Never end the body inside a tag.
    body = body[: body.rfind("\n") + 1]
    return text + body + tail


def generate(directory: Path) -> Site:
    """
    Write the site into C{directory}/site and its manifest beside it.

    @param directory: An empty directory.
    @return: The L{Site}.
    """
    rng = random.Random(SEED)
    root = directory / "site"
    files = {PAGE: _page(rng, PAGE_SIZE).encode("ascii")}
    for index, (path, size) in enumerate(ASSETS):
        files[path] = _asset(rng, path, size, first=index == 0)
    sizes = {}
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        sizes[path] = len(data)
    assets = tuple(path for path, _ in ASSETS)
    manifest = directory / "push-manifest.json"
    manifest.write_text(json.dumps({PAGE: list(assets)}, indent=2) + "\n")
    return Site(root=root, manifest=manifest, assets=assets, sizes=sizes)
