"""
The benchmark's site: one page and its assets, generated from a fixed seed.

The page is about 30 KB of HTML that links four stylesheets and four scripts
(about 300 KB in all) from its head, as a real page does; the push manifest
names the same eight assets for C{/index.html}.  The same seed always gives
the same bytes, so every run and every server serves an identical site.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 6
PAGE = "/index.html"
PAGE_SIZE = 30_000

# (path, size in bytes): 300 KB in all, the stylesheets first as a browser
# needs them first.
ASSETS = (
    ("/css/base.css", 24_000),
    ("/css/layout.css", 30_000),
    ("/css/theme.css", 36_000),
    ("/css/print.css", 18_000),
    ("/js/vendor.js", 60_000),
    ("/js/app.js", 54_000),
    ("/js/widgets.js", 42_000),
    ("/js/analytics.js", 36_000),
)

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


def _stylesheet(rng: random.Random, size: int) -> str:
    return _filled(
        size,
        lambda: (
            f".c{rng.getrandbits(32):08x} {{ margin: {rng.randrange(40)}px; "
            f"color: #{rng.getrandbits(24):06x}; "
            f"font-size: {rng.randrange(8, 40)}px; }}\n"
        ),
    )


def _script(rng: random.Random, size: int) -> str:
    return _filled(
        size,
        lambda: (
            f"function f{rng.getrandbits(32):08x}(a, b) "
            f"{{ return a * {rng.randrange(1000)} + b; }}\n"
            f"// {_words(rng, 8)}\n"
        ),
    )


def _page(rng: random.Random, size: int) -> str:
    head = [
        "<!DOCTYPE html>",
        "<html><head><meta charset=utf-8>",
        "<title>bench</title>",
    ]
    for path, _ in ASSETS:
        if path.endswith(".css"):
            head.append(f'<link rel="stylesheet" href="{path}">')
        else:
            head.append(f'<script src="{path}" defer></script>')
    head.append("</head><body>")
    text = "\n".join(head) + "\n"
    tail = "</body></html>\n"
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
    files = {PAGE: _page(rng, PAGE_SIZE)}
    for path, size in ASSETS:
        files[path] = (_stylesheet if path.endswith(".css") else _script)(rng, size)
    sizes = {}
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("ascii")
        target.write_bytes(data)
        sizes[path] = len(data)
    assets = tuple(path for path, _ in ASSETS)
    manifest = directory / "push-manifest.json"
    manifest.write_text(json.dumps({PAGE: list(assets)}, indent=2) + "\n")
    return Site(root=root, manifest=manifest, assets=assets, sizes=sizes)
