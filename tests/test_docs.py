"""
The documentation in docs/: it builds with warnings as errors, every Python
example in it runs and does what its page says, and the sequence diagram is
the one its script draws.

The examples are the C{python} and C{pycon} fenced blocks of the Markdown
pages, and the files of examples/ that pages include with C{literalinclude}.
Each block runs in a fresh namespace, on the reactor thread, from a
directory holding a small site (C{site/}), the manifest shown in
docs/manifests.md (C{push-manifest.json}) and a development certificate
(C{cert.pem}, C{key.pem}); C{pycon} blocks are doctests.  A block may follow
an HTML comment naming it, C{<!-- example: NAME -->}: L{EXAMPLES}[NAME] then
prepares its namespace and checks what it built, typically by serving its
site on loopback and fetching pages with an HTTP/2 client.  Whatever a block
listens on is moved to a free loopback port and fetched over HTTP/2.
"""

from __future__ import annotations

import doctest
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import endpoints
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from tests.conftest import EXAMPLES as EXAMPLES_DIRECTORY
from tests.conftest import loadExample, onReactor
from tests.sites import LOGO_PNG, makeSite
from txpush.digest import CacheDigest
from txpush.testing.digests import digestCookies
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.modules import loadModule

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"

Namespace = dict[str, Any]
Serve = Callable[..., Any]


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int
    language: str
    code: str
    name: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS)}:{self.line}"


_FENCE = re.compile(r"( *)(`{3,}|~{3,})\s*([^`]*)")
_CODE_DIRECTIVES = {"{code-block}", "{code}", "{sourcecode}"}
_MARKER = re.compile(r"<!-- example: ([\w-]+) -->")
_LANGUAGES = {"python": "python", "py": "python", "pycon": "pycon"}


def pages() -> list[Path]:
    """The Markdown pages of the documentation."""
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


def fencedBlocks(page: Path) -> Iterator[tuple[int, str, str, str | None]]:
    """
    The fenced blocks of a page: (line of the code, language, code, the name
    of the example comment just before the fence, if any).
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.fullmatch(lines[index])
        if fence is None:
            index += 1
            continue
        indent, marks, info = fence.groups()
        words = info.split() or [""]
        if words[0] in _CODE_DIRECTIVES and len(words) > 1:
            words = words[1:]
        end = index + 1
        while end < len(lines) and lines[end].strip() != marks:
            end += 1
        body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
        if words[0] in _CODE_DIRECTIVES:
            body = [line for line in body if not line.startswith(":")]
        previous = next((s for s in reversed(lines[:index]) if s.strip()), "")
        marker = _MARKER.fullmatch(previous.strip())
        yield (
            index + 2,
            words[0],
            "\n".join(body) + "\n",
            marker[1] if marker else None,
        )
        index = end + 1


def codeBlocks() -> list[Block]:
    """Every Python block of the documentation."""
    return [
        Block(page, line, _LANGUAGES[language], code, name)
        for page in pages()
        for line, language, code, name in fencedBlocks(page)
        if language in _LANGUAGES
    ]


def includedExamples() -> list[Path]:
    """
    The Python files directly in examples/ that pages include with
    literalinclude: sites with a C{buildSite()}.  The projects in its
    subdirectories (the Flask and Django guides') are served and checked by
    tests/test_frameworks.py.
    """
    found = set()
    for page in pages():
        for target in re.findall(
            r"(?:```|~~~)\{literalinclude\}\s+(\S+\.py)",
            page.read_text(encoding="utf-8"),
        ):
            path = (page.parent / target).resolve()
            if path.parent == EXAMPLES_DIRECTORY.resolve():
                found.add(path)
    return sorted(found)


def manifestExample() -> str:
    """The manifest docs/manifests.md shows first, which the examples load."""
    for _line, language, code, _name in fencedBlocks(DOCS / "manifests.md"):
        if language == "json":
            return code
    raise AssertionError("docs/manifests.md shows no JSON manifest")


# What an example's page says it does, checked.


def pageRequest(namespace: Namespace) -> None:
    """
    A C{request} for the blocks that show code from inside C{render_GET}:
    a Twisted request for C{GET /} with C{Host: example.com}.
    """
    request = Request(DummyChannel())
    request.method = b"GET"
    request.uri = request.path = b"/"
    request.requestHeaders.setRawHeaders(b"host", [b"example.com"])
    namespace["request"] = request


def pushedPaths(client: H2Client) -> list[bytes | None]:
    return [stream.path for stream in client.pushes()]


def header(stream: Stream, name: bytes) -> list[bytes]:
    return [value for key, value in stream.headers or [] if key == name]


def hintLinks(stream: Stream) -> list[bytes]:
    """The Link values of the 103 Early Hints a response had."""
    return [
        value
        for hints in stream.informational
        for key, value in hints
        if key == b"link"
    ]


def checkPushes(
    serve: Serve, site: Any, page: bytes, assets: list[bytes], early: bool
) -> None:
    """
    A client that takes no pushes gets the assets as preload links, and on
    its first visit as Early Hints when C{early} (they are named before the
    page renders); a first visit that takes pushes pushes C{assets}, each
    answered 200; a repeat visit with the digest cookie pushes nothing; and
    a client that takes no pushes then gets them as Early Hints whatever
    C{early}, learned from the page's Link headers.
    """
    site.noisy = False
    server = serve(site)
    expected = [b"<" + path + b">" for path in assets]
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(page)
    assert [link.split(b";")[0] for link in header(browser, b"link")] == expected
    hinted = [link.split(b";")[0] for link in hintLinks(browser)]
    assert hinted == (expected if early else [])
    with H2Client(server.portNumber) as client:
        first = client.get(page)
        assert first.status == 200
        assert pushedPaths(client) == assets
        assert all(stream.status == 200 for stream in client.pushes())
        (cookie,) = digestCookies(first)
    with H2Client(server.portNumber) as client:
        assert client.get(page, headers=[(b"cookie", cookie)]).status == 200
        assert pushedPaths(client) == []
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(page)
    assert [link.split(b";")[0] for link in hintLinks(browser)] == expected


def checkQuickStart(namespace: Namespace, serve: Serve) -> None:
    site = namespace["site"]
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert page.status == 200
        assert pushedPaths(client) == [b"/app.js", b"/style.css"]
        assert [bytes(stream.body) for stream in client.pushes()] == [
            b'console.log("hello");\n',
            b"body { color: navy; }\n",
        ]
    with H2Client(server.portNumber, enablePush=False) as client:
        assert client.get(b"/").status == 200
        assert pushedPaths(client) == []


def checkDigestCookie(namespace: Namespace, serve: Serve) -> None:
    (setCookie,) = namespace["request"].responseHeaders.getRawHeaders(b"set-cookie")
    value = setCookie.split(b";")[0].removeprefix(b"h2o_casper=")
    assert "/style.css" in CacheDigest.fromCookieValue(value)


@dataclass(frozen=True)
class Example:
    """
    What a named example needs before it runs, and what to check after.

    @ivar after: The name of an example whose block runs first, in the same
        namespace: the block goes on from it.
    """

    setup: Callable[[Namespace], None] | None = None
    check: Callable[[Namespace, Serve], None] | None = None
    after: str | None = None


STATIC_ASSETS = [b"/static/style.css", b"/static/app.js"]

EXAMPLES = {
    "quickstart": Example(check=checkQuickStart),
    "request": Example(setup=pageRequest),
    "digest-cookie": Example(setup=pageRequest, check=checkDigestCookie),
    "cache-aware": Example(
        check=lambda ns, serve: checkPushes(
            serve, ns["site"], b"/", [b"/style.css", b"/app.js"], early=True
        )
    ),
    "resource-links": Example(
        check=lambda ns, serve: checkPushes(
            serve, ns["site"], b"/", STATIC_ASSETS, early=False
        )
    ),
    "klein-links": Example(
        check=lambda ns, serve: checkPushes(
            serve, ns["site"], b"/", STATIC_ASSETS, early=False
        )
    ),
    "klein-hints": Example(
        after="klein-links",
        check=lambda ns, serve: checkPushes(
            serve, ns["site"], b"/", STATIC_ASSETS, early=True
        ),
    ),
}


# Running the blocks.


@pytest.fixture
def workDirectory(tmp_path, certificate, monkeypatch) -> Path:
    """
    The directory the examples run from, made current.
    """
    makeSite(tmp_path / "site")
    (tmp_path / "push-manifest.json").write_text(manifestExample())
    cert, key = certificate
    shutil.copy(cert, tmp_path / "cert.pem")
    shutil.copy(key, tmp_path / "key.pem")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def loopback(description: str) -> str:
    """
    Move a server endpoint description to a free port on loopback: the
    pages listen on well-known ports, which may be taken here.
    """
    kind, _port, *parameters = description.split(":")
    kept = [p for p in parameters if not p.startswith("interface=")]
    return ":".join([kind, "0", "interface=127.0.0.1", *kept])


class ListeningRecorder:
    """
    Stands in for L{endpoints.serverFromString} while blocks run: listens on
    loopback instead, and records the ports.
    """

    def __init__(self) -> None:
        self.ports: list[tuple[bool, Any]] = []
        self.serverFromString = endpoints.serverFromString

    @contextmanager
    def installed(self) -> Iterator[None]:
        endpoints.serverFromString = self
        try:
            yield
        finally:
            endpoints.serverFromString = self.serverFromString

    def __call__(self, reactor: Any, description: str) -> Any:
        endpoint = self.serverFromString(reactor, loopback(description))
        tls = description.startswith("ssl:")
        recorder = self

        class Recording:
            def listen(self, factory: Any) -> Any:
                listening = endpoint.listen(factory)
                listening.addCallback(
                    lambda port: recorder.ports.append((tls, port)) or port
                )
                return listening

        return Recording()


def runBlock(block: Block, namespace: Namespace) -> None:
    """Run a block in C{namespace} on the reactor thread."""
    # Blank lines first, so that tracebacks give the page's line numbers.
    source = "\n" * (block.line - 1) + block.code
    if block.language == "python":
        code = compile(source, str(block.page), "exec")
        onReactor(exec, code, namespace)
        return
    test = doctest.DocTestParser().get_doctest(
        source, namespace, block.id, str(block.page), 0
    )
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    onReactor(runner.run, test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


def namedBlocks() -> dict[str, list[Block]]:
    """The blocks that follow an example comment, by name."""
    named: dict[str, list[Block]] = {}
    for block in codeBlocks():
        if block.name is not None:
            named.setdefault(block.name, []).append(block)
    return named


@pytest.mark.parametrize("block", codeBlocks(), ids=lambda block: block.id)
def test_example(block, workDirectory, serve):
    """
    The block runs, and does what its page says.
    """
    recorder = ListeningRecorder()
    # Not "__main__": the blocks that are programs serve only when run.
    namespace: Namespace = {"__name__": "docs_example"}
    example = EXAMPLES[block.name] if block.name is not None else Example()
    try:
        with recorder.installed():
            if example.after is not None:
                earlier = EXAMPLES[example.after]
                if earlier.setup is not None:
                    earlier.setup(namespace)
                (earlierBlock,) = namedBlocks()[example.after]
                runBlock(earlierBlock, namespace)
            if example.setup is not None:
                example.setup(namespace)
            runBlock(block, namespace)
        for tls, port in recorder.ports:
            with H2Client(port.getHost().port, tls=tls) as client:
                assert client.get(b"/").status == 200
        if example.check is not None:
            example.check(namespace, serve)
    finally:
        for _tls, port in recorder.ports:
            onReactor(port.stopListening)


def test_everyExampleIsUsed():
    """
    Every name of L{EXAMPLES} names a block, and every name given on a page
    is in L{EXAMPLES}: a check cannot silently stop applying.  A block that
    others go on from is the only one of its name.
    """
    named = namedBlocks()
    assert set(named) == set(EXAMPLES)
    for example in EXAMPLES.values():
        if example.after is not None:
            assert len(named[example.after]) == 1, example.after
    assert codeBlocks(), "no Python examples found"


@pytest.mark.parametrize("path", includedExamples(), ids=lambda p: p.name)
def test_includedExample(path, serve):
    """
    A file that a page includes is an example of examples/ whose
    C{buildSite()} serves a page with pushes (tests/test_examples.py checks
    each in detail).
    """
    site = loadExample(path.stem).buildSite()
    site.noisy = False
    server = serve(site)
    with H2Client(server.portNumber) as client:
        assert client.get(b"/").status == 200
        assert client.pushes()
        assert all(stream.status == 200 for stream in client.pushes())


def test_manifestExampleLoads(tmp_path):
    """
    The manifest shown in docs/manifests.md is valid.
    """
    from txpush import loadManifest

    path = tmp_path / "push-manifest.json"
    path.write_text(manifestExample())
    manifest = loadManifest(path)
    assert json.loads(manifestExample()).keys() == {
        page.decode() for page in manifest.pages
    }


def test_sequenceDiagramIsUpToDate():
    """
    docs/diagrams/sequence.svg is what docs/diagrams/sequence.py draws: run
    C{python docs/diagrams/sequence.py} after changing the script.
    """
    script = DOCS / "diagrams" / "sequence.py"
    module = loadModule("docs_sequence", script)
    committed = script.with_suffix(".svg").read_text(encoding="utf-8")
    assert committed == module.render(), "run python docs/diagrams/sequence.py"


def buildDocs(docs: Path, output: Path) -> None:
    """Build the HTML documentation with warnings as errors."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(output.parent / "doctrees"),
            str(docs),
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout


def test_build(tmp_path):
    """
    The documentation builds with warnings as errors, API reference included,
    and its pages link to the API reference.
    """
    output = tmp_path / "html"
    buildDocs(DOCS, output)
    api = output / "api"
    assert "txpush.PushSite" in (api / "index.html").read_text(encoding="utf-8")
    assert (api / "txpush.CacheAwarePushResource.html").exists()
    quickstart = (output / "quickstart.html").read_text(encoding="utf-8")
    assert 'href="api/txpush.IPusher.html' in quickstart
    assert (output / "_images" / "sequence.svg").exists()


def test_buildWithBenchmarkResults(tmp_path):
    """
    Once bench/run.py has written its report and figure, the benchmarks page
    shows them, and the documentation still builds.
    """
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns("_build"))
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    for name in (
        "txpush",
        "examples",
        "bench/results/digest.md",
        "bench/results/h2spec.md",
    ):
        (tmp_path / name).symlink_to(ROOT / name)
    (results / "results.md").write_text("# Results\n")
    (results / "first-visit.png").write_bytes(LOGO_PNG)
    output = tmp_path / "html"
    buildDocs(tmp_path / "docs", output)
    page = (output / "benchmarks.html").read_text(encoding="utf-8")
    assert "first-visit.png" in page
    assert "results.md" in page
    assert "not there yet" not in page
