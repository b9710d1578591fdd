"""
Sphinx configuration of the txpush documentation.

The narrative pages are Markdown (myst-parser); the API reference is built by
pydoctor from the epytext docstrings, as Twisted's is, through pydoctor's
Sphinx extension.  Build with warnings as errors::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging as sphinxLogging

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# pydoctor names files by their real path.
PACKAGE = (ROOT / "txpush").resolve()

project = "txpush"
author = "the txpush authors"
copyright = "the txpush authors"

extensions = [
    "myst_parser",
    "sphinx.ext.intersphinx",
    "pydoctor.sphinx_ext.build_apidocs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
# Every cross-reference must resolve: a renamed API name breaks the build.
nitpicky = True

myst_heading_anchors = 3

html_theme = "furo"
html_title = "txpush"

# pydoctor's extension adds the API's inventory here, so that the pages can
# link to it with {py:class}`txpush.PushSite` and the like.
intersphinx_mapping: dict[str, object] = {}

pydoctor_args = [
    "--project-name=txpush",
    "--docformat=epytext",
    f"--project-base-dir={ROOT}",
    "--html-output={outdir}/api",
    # The API pages' header links back to the narrative documentation.
    "--project-url=../index.html",
    str(ROOT / "txpush"),
]
# Relative: the API reference is served beside the pages, under api/.
pydoctor_url_path = "api/"

# The names the docstrings link to outside txpush, for pydoctor's links.
# The build is offline, so these stand in for the Python and Twisted
# inventories; a docstring that links to a name missing here fails the build
# ("Cannot find link target"): add the name.
EXTERNAL_NAMES = {
    "https://docs.python.org/3": {
        "None": "library/constants.html#None",
        "True": "library/constants.html#True",
        "False": "library/constants.html#False",
        "bytes": "library/stdtypes.html#bytes",
        "str": "library/stdtypes.html#str",
        "ValueError": "library/exceptions.html#ValueError",
    },
    "https://docs.twisted.org/en/stable/api": {
        name: f"{name}.html"
        for name in (
            "twisted.internet.defer.Deferred",
            "twisted.web.http.HTTPFactory",
            "twisted.web.iweb.IAccessLogFormatter",
            "twisted.web.resource.IResource",
            "twisted.web.server.Request",
            "twisted.web.server.Site",
        )
    },
}

# pydoctor's warnings about the docstrings become Sphinx warnings, so errors.
# These are known and reported; each is (file, message).  An entry that no
# longer occurs is itself a warning, so the list stays true.
KNOWN_PYDOCTOR_WARNINGS = {
    # pydoctor's regular expression colorizer predates possessive
    # quantifiers (Python 3.11); the private pattern is valid.
    (
        "txpush/digest.py",
        "Cannot colorize regular expression, error: multiple repeat at position 2",
    ),
}

_PYDOCTOR_LOGGER = "sphinx.pydoctor.sphinx_ext.build_apidocs"
_WARNING = re.compile(r"(?P<path>/\S+?):(?P<line>\d+): (?P<message>.*)")
log = sphinxLogging.getLogger(__name__)


class _KnownWarnings(logging.Filter):
    """
    Drop pydoctor's known warnings, and remember which were seen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        match = _WARNING.match(record.getMessage())
        if match is None:
            return True
        path = Path(match["path"])
        if path.is_relative_to(PACKAGE.parent):
            path = path.relative_to(PACKAGE.parent)
        key = (path.as_posix(), match["message"])
        if key in KNOWN_PYDOCTOR_WARNINGS:
            self.seen.add(key)
            return False
        return True


def _writeInventories(app: Sphinx) -> None:
    """
    Write the inventories of L{EXTERNAL_NAMES} and hand them to pydoctor.
    """
    if app.builder.name != "html":
        return
    directory = Path(app.doctreedir) / "pydoctor-inventories"
    directory.mkdir(parents=True, exist_ok=True)
    for number, (baseURL, names) in enumerate(EXTERNAL_NAMES.items()):
        lines = "".join(
            f"{name} py:{'class' if '.html#' not in uri else 'data'} 1 {uri} -\n"
            for name, uri in sorted(names.items())
        )
        inventory = directory / f"external{number}.inv"
        inventory.write_bytes(
            b"# Sphinx inventory version 2\n# Project: external\n# Version: \n"
            b"# The remainder of this file is compressed using zlib.\n"
            + zlib.compress(lines.encode())
        )
        app.config.pydoctor_args.append(f"--intersphinx-file={inventory}::{baseURL}")


def _checkKnownWarnings(app: Sphinx, known: _KnownWarnings) -> None:
    if app.builder.name != "html":
        return
    for path, message in sorted(KNOWN_PYDOCTOR_WARNINGS - known.seen):
        log.warning(
            "pydoctor no longer reports %s: %s; remove it from "
            "KNOWN_PYDOCTOR_WARNINGS in docs/conf.py",
            path,
            message,
        )


BENCH_RESULTS = ROOT / "bench" / "results"
BENCH_MARKER = "% The full benchmark results are put here by docs/conf.py.\n"


def _benchmarkResults(app: Sphinx, docname: str, source: list[str]) -> None:
    """
    Show the full benchmark results that exist, and say how to make the
    others: bench/ is written separately from the documentation.
    """
    if docname != "benchmarks":
        return
    if BENCH_MARKER not in source[0]:
        log.warning("docs/benchmarks.md: the line %r is missing", BENCH_MARKER)
        return
    report, figure = BENCH_RESULTS / "results.md", BENCH_RESULTS / "first-visit.png"
    text = ""
    if report.exists():
        text += "Read them in {download}`results.md <../bench/results/results.md>`.\n"
    if figure.exists():
        text += (
            "\n```{figure} ../bench/results/first-visit.png\n"
            ":alt: The benchmark's first-visit page load times\n\n"
            "First visits, from `bench/results/first-visit.png`.\n```\n"
        )
    missing = [f"`{p.name}`" for p in (report, figure) if not p.exists()]
    if missing:
        text += (
            f"\n{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not there yet: run `python bench/run.py` to make them.\n"
        )
    source[0] = source[0].replace(BENCH_MARKER, text)


def setup(app: Sphinx) -> dict[str, object]:
    known = _KnownWarnings()
    logging.getLogger(_PYDOCTOR_LOGGER).addFilter(known)
    # Before pydoctor's extension (490) builds the API, after it: check.
    app.connect("builder-inited", _writeInventories, priority=480)
    app.connect(
        "builder-inited", lambda app: _checkKnownWarnings(app, known), priority=495
    )
    app.connect("source-read", _benchmarkResults)
    return {"parallel_read_safe": True}
