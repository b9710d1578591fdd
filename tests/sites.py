"""
A small static site for cache-aware push tests: a page, its stylesheet,
script and image, and its manifest.
"""

from __future__ import annotations

from pathlib import Path

INDEX_HTML = b"""<!DOCTYPE html>
<html>
<head>
  <title>txpush test page</title>
  <link rel="stylesheet" href="/style.css">
  <script src="/app.js"></script>
</head>
<body><h1>Hello</h1><img src="/logo.png" alt="logo"></body>
</html>
"""
STYLE_CSS = b"body { font-family: sans-serif; }\n" * 20
APP_JS = b'console.log("hello");\n' * 20
# A 1x1 transparent PNG.
LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
MANIFEST = {"/index.html": ["/style.css", "/app.js"]}


def makeSite(directory: Path) -> Path:
    """
    Write the site's files into C{directory}; return it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_bytes(INDEX_HTML)
    (directory / "style.css").write_bytes(STYLE_CSS)
    (directory / "app.js").write_bytes(APP_JS)
    (directory / "logo.png").write_bytes(LOGO_PNG)
    return directory


TIMING_REPORT = b"""<p id="timing">pending</p>
<script>
// Report each resource's initiator, for a headless browser's --dump-dom.
window.addEventListener("load", () => {
  document.getElementById("timing").textContent = performance
    .getEntriesByType("resource")
    .map((e) => new URL(e.name).pathname + "=" + e.initiatorType)
    .join(" ");
});
</script>
"""


def makeTimingSite(directory: Path) -> Path:
    """
    The site of L{makeSite}, whose page reports its Resource Timing
    initiators in an element C{#timing} once loaded.
    """
    makeSite(directory)
    page = INDEX_HTML.replace(b"</body>", TIMING_REPORT + b"</body>")
    (directory / "index.html").write_bytes(page)
    return directory
