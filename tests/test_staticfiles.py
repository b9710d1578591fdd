"""
The files C{twist txpush} serves carry a strong C{ETag} and a
C{Cache-Control}, and conditional and range requests are answered with
them: checked on a real C{twist txpush --path DIR}, over h2c and TLS, with
the python h2 client and nghttp; the values' parsing, in memory.
"""

from __future__ import annotations

import email.utils
import os
import re
from pathlib import Path

import pytest

from tests.sites import makeSite
from tests.test_tap import parse
from txpush.filecache import DEFAULT_MAX_FILE_BYTES
from txpush.staticfiles import (
    DEFAULT_CACHE_CONTROL,
    CacheControl,
    cacheControlProblem,
    entityTag,
)
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.nghttp import runNghttp
from txpush.testing.twist import TwistServer

LISTEN = (
    "--listen",
    "ssl:0:interface=127.0.0.1",
    "--listen",
    "tcp:0:interface=127.0.0.1",
)
NOTES = b"".join(b"line %d\n" % number for number in range(1000))
TAG = re.compile(rb'"[0-9a-f]+-[0-9a-f]+"')


def buildSite(directory: Path) -> Path:
    """
    The test site, with an image and a text file in subdirectories.
    """
    site = makeSite(directory)
    (site / "sub" / "deep").mkdir(parents=True)
    (site / "sub" / "deep" / "pic.png").write_bytes((site / "logo.png").read_bytes())
    (site / "sub" / "notes.txt").write_bytes(NOTES)
    return site


def tagOf(path: Path) -> bytes:
    """The ETag a file should have now."""
    status = path.stat()
    return entityTag(status.st_size, status.st_mtime_ns)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """
    C{twist txpush --path SITE} with the default cache headers, and its site.
    """
    root = tmp_path_factory.mktemp("plain")
    site = buildSite(root / "site")
    server = TwistServer(*LISTEN, "--path", str(site), stateDirectory=root / "state")
    yield server, site
    server.kill()


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """
    C{twist txpush} with a manifest, C{Cache-Control} by type and a digest
    C{Max-Age} of an hour.
    """
    root = tmp_path_factory.mktemp("tuned")
    site = buildSite(root / "site")
    manifest = root / "push.json"
    manifest.write_text('{"/index.html": ["/style.css", "/app.js"]}')
    server = TwistServer(
        *LISTEN,
        "--path",
        str(site),
        "--push-manifest",
        str(manifest),
        "--cache-control",
        "max-age=60",
        "--cache-control",
        "text/html=no-cache",
        "--cache-control",
        "image/*=max-age=86400, immutable",
        "--digest-max-age",
        "3600",
        stateDirectory=root / "state",
    )
    yield server, site
    server.kill()


def fetch(
    server: TwistServer,
    scheme: str,
    path: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    method: bytes = b"GET",
) -> Stream:
    """One request, without push, over h2c or TLS."""
    with H2Client(server.port(scheme), tls=scheme == "https", enablePush=False) as c:
        return c.get(path, headers or [], method)


def assertNotModified(stream: Stream, tag: bytes, cacheControl: str) -> None:
    """A 304 without a body or Content-Length, with the validators."""
    assert stream.status == 304
    assert stream.ended and stream.body == b""
    assert stream.header(b"content-length") is None
    assert stream.header(b"etag") == tag
    assert stream.header(b"cache-control") == cacheControl.encode()


SCHEMES = pytest.mark.parametrize("scheme", ["http", "https"])


@SCHEMES
def test_validatorsAndDefaultCacheControl(plain, scheme):
    """
    A served file, in the root or a subdirectory, carries its ETag (made
    from its size and modification time), C{Last-Modified}, and
    C{Cache-Control: no-cache} by default; a missing file gets neither.
    """
    server, site = plain
    for path, file in [
        (b"/style.css", site / "style.css"),
        (b"/", site / "index.html"),
        (b"/sub/notes.txt", site / "sub" / "notes.txt"),
        (b"/sub/deep/pic.png", site / "sub" / "deep" / "pic.png"),
    ]:
        stream = fetch(server, scheme, path)
        assert stream.status == 200, path
        assert stream.body == file.read_bytes()
        assert TAG.fullmatch(stream.header(b"etag") or b""), stream.headers
        assert stream.header(b"etag") == tagOf(file)
        assert stream.header(b"cache-control") == DEFAULT_CACHE_CONTROL.encode()
        assert stream.header(b"last-modified") is not None
    missing = fetch(server, scheme, b"/nowhere.css")
    assert missing.status == 404
    assert missing.header(b"etag") is None
    assert missing.header(b"cache-control") is None


@SCHEMES
def test_ifNoneMatch(plain, scheme):
    """
    C{If-None-Match} with the file's tag, also weak or in a list, or C{*},
    gets a 304 without a body; with another tag, the file.
    """
    server, site = plain
    tag = fetch(server, scheme, b"/app.js").header(b"etag")
    assert tag is not None
    for condition in (tag, b"W/" + tag, b'"other", ' + tag, b"*"):
        stream = fetch(server, scheme, b"/app.js", [(b"if-none-match", condition)])
        assertNotModified(stream, tag, DEFAULT_CACHE_CONTROL)
    head = fetch(server, scheme, b"/app.js", [(b"if-none-match", tag)], b"HEAD")
    assert head.status == 304
    other = fetch(server, scheme, b"/app.js", [(b"if-none-match", b'"other"')])
    assert other.status == 200
    assert other.body == (site / "app.js").read_bytes()


def test_changedFileGetsANewTag(plain):
    """
    A file rewritten with the same size, or with another size, gets a new
    ETag: the old one no longer matches, the new one does.
    """
    server, site = plain
    file = site / "changing.css"
    file.write_bytes(b"a{color:red}")
    os.utime(file, ns=(10**18, 10**18))
    old = fetch(server, "http", b"/changing.css").header(b"etag")
    assert old == tagOf(file)
    for content, when in [(b"a{color:tan}", 10**18 + 1), (b"a{}", 10**18 + 2)]:
        file.write_bytes(content)
        os.utime(file, ns=(when, when))
        stream = fetch(server, "http", b"/changing.css", [(b"if-none-match", old)])
        assert stream.status == 200
        assert stream.body == content
        new = stream.header(b"etag")
        assert new == tagOf(file) and new != old
        revalidated = fetch(server, "http", b"/changing.css", [(b"if-none-match", new)])
        assertNotModified(revalidated, new, DEFAULT_CACHE_CONTROL)
        old = new


@SCHEMES
def test_ifModifiedSince(plain, scheme):
    """
    C{If-Modified-Since} no older than the file gets a 304; an older one,
    the file; with an C{If-None-Match} that does not match, it is ignored.
    """
    server, site = plain
    first = fetch(server, scheme, b"/style.css")
    lastModified = first.header(b"last-modified")
    assert lastModified is not None
    stream = fetch(
        server, scheme, b"/style.css", [(b"if-modified-since", lastModified)]
    )
    assertNotModified(stream, first.header(b"etag"), DEFAULT_CACHE_CONTROL)
    when = email.utils.parsedate_to_datetime(lastModified.decode())
    earlier = email.utils.format_datetime(when.replace(year=when.year - 1), usegmt=True)
    older = fetch(
        server, scheme, b"/style.css", [(b"if-modified-since", earlier.encode())]
    )
    assert older.status == 200 and older.body == (site / "style.css").read_bytes()
    both = fetch(
        server,
        scheme,
        b"/style.css",
        [(b"if-none-match", b'"other"'), (b"if-modified-since", lastModified)],
    )
    assert both.status == 200 and both.body == (site / "style.css").read_bytes()


@SCHEMES
def test_range(plain, scheme):
    """
    A Range request still gets 206 with the ETag; with an C{If-Range} that
    names this version (its strong tag or its date) too, and with one that
    names another, the whole file.
    """
    server, _ = plain
    whole = fetch(server, scheme, b"/sub/notes.txt")
    tag, date = whole.header(b"etag"), whole.header(b"last-modified")
    assert tag is not None and date is not None
    ranged = [(b"range", b"bytes=5-14")]
    for extra in ([], [(b"if-range", tag)], [(b"if-range", date)]):
        stream = fetch(server, scheme, b"/sub/notes.txt", ranged + extra)
        assert stream.status == 206, extra
        assert stream.body == NOTES[5:15]
        assert stream.header(b"content-range") == b"bytes 5-14/%d" % len(NOTES)
        assert stream.header(b"etag") == tag
        assert stream.header(b"cache-control") == DEFAULT_CACHE_CONTROL.encode()
    for stale in (b'"other"', b"W/" + tag, b"Mon, 01 Jan 2001 00:00:00 GMT"):
        stream = fetch(
            server, scheme, b"/sub/notes.txt", [*ranged, (b"if-range", stale)]
        )
        assert stream.status == 200, stale
        assert stream.body == NOTES


@SCHEMES
def test_cacheControlByType(tuned, scheme):
    """
    C{--cache-control TYPE=VALUE} sets a type's value (C{type/*} for its
    subtypes, in subdirectories too), a bare value every other type's; a 304
    carries the same.
    """
    server, _ = tuned
    expected = {
        b"/": b"no-cache",
        b"/logo.png": b"max-age=86400, immutable",
        b"/sub/deep/pic.png": b"max-age=86400, immutable",
        b"/style.css": b"max-age=60",
        b"/sub/notes.txt": b"max-age=60",
    }
    for path, value in expected.items():
        stream = fetch(server, scheme, path)
        assert stream.status == 200, path
        assert stream.header(b"cache-control") == value, path
        tag = stream.header(b"etag")
        again = fetch(server, scheme, path, [(b"if-none-match", tag)])
        assertNotModified(again, tag, value.decode())


@SCHEMES
def test_pushedResponsesCarryThem(tuned, scheme):
    """
    Pushed assets are served the same way, with their ETag and
    C{Cache-Control}; C{--digest-max-age} is the digest cookie's Max-Age.
    """
    server, site = tuned
    with H2Client(server.port(scheme), tls=scheme == "https") as client:
        page = client.get(b"/")
        pushes = {stream.path: stream for stream in client.pushes()}
    assert set(pushes) == {b"/style.css", b"/app.js"}
    for path, stream in pushes.items():
        assert stream.status == 200
        assert stream.header(b"etag") == tagOf(site / path.decode().lstrip("/"))
        assert stream.header(b"cache-control") == b"max-age=60"
    cookie = page.header(b"set-cookie")
    assert cookie is not None and b"Max-Age=3600;" in cookie


def test_nghttpRevalidates(plain, nghttp):
    """
    nghttp, over TLS, gets the tag, a 304 when it sends it back, and a 206
    for a range.
    """
    server, _ = plain
    url = server.url("https", "/style.css")
    first = runNghttp(nghttp, "-v", url)
    tag = re.search(r"etag: (\S+)", first).group(1)
    assert "cache-control: no-cache" in first
    second = runNghttp(nghttp, "-v", "-H", f"if-none-match: {tag}", url)
    assert ":status: 304" in second
    assert "content-length" not in second
    ranged = runNghttp(nghttp, "-v", "-H", "range: bytes=0-3", url)
    assert ":status: 206" in ranged
    assert "content-range: bytes 0-3/" in ranged


# The values, in memory.


@pytest.mark.parametrize(
    "value",
    [
        "no-cache",
        "max-age=86400, immutable",
        "public,max-age=0,must-revalidate",
        "Max-Age=5",
        'private="set-cookie", no-transform',
        "no-store",
        "s-maxage=60, stale-while-revalidate=30, stale-if-error=600",
        'no-cache="set-cookie, set-cookie2", max-age=5',
        'private="a\\",b"',
    ],
)
def test_validCacheControl(value):
    assert cacheControlProblem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "give one or more directives"),
        ("no-cache,", "give one or more directives"),
        ("max-age", "max-age takes a number of seconds: write max-age=86400"),
        ("max-age=1h", "max-age takes a number of seconds"),
        ("max-age=-1", "max-age takes a number of seconds"),
        ("immutable=1", "immutable takes no value: write immutable"),
        ("maxage=60", "unknown directive 'maxage'"),
        ("max-age 60", "is not a directive: write NAME or NAME=VALUE"),
        ("no-cache\r\nx: y", "is not a directive"),
        ('no-cache="caf\u00e9"', "is not a directive"),
        ('no-cache="open, max-age=5', "is not a directive"),
        ("no-cache,,max-age=1", "give one or more directives"),
    ],
)
def test_invalidCacheControl(value, problem):
    found = cacheControlProblem(value)
    assert found is not None and problem in found


def test_fromArguments():
    """
    A bare value is every type's; C{TYPE=VALUE} one type's, lower-cased;
    an exact type comes before its C{type/*}, which comes before the
    default, which is L{DEFAULT_CACHE_CONTROL} when no bare value is given.
    """
    rules = CacheControl.fromArguments(
        ["Text/HTML=no-cache", "image/*=max-age=86400", "image/svg+xml=max-age=60"]
    )
    assert rules.default == DEFAULT_CACHE_CONTROL == "no-cache"
    assert rules.forType("text/html; charset=utf-8") == "no-cache"
    assert rules.forType("image/png") == "max-age=86400"
    assert rules.forType("IMAGE/SVG+XML") == "max-age=60"
    assert rules.forType("text/css") == "no-cache"
    assert rules.forType(None) == "no-cache"
    every = CacheControl.fromArguments([" max-age=60 ", "text/css=no-store"])
    assert every.forType("text/javascript") == "max-age=60"
    assert every.forType("text/css") == "no-store"
    assert CacheControl.fromArguments([]) == CacheControl()
    assert CacheControl(None).forType("text/css") is None
    assert hash(rules) == hash(CacheControl(rules.default, dict(rules.byType)))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["max-age=x"], "max-age=x: max-age takes a number of seconds"),
        (["image/*=maxage=1"], "image/*=maxage=1: unknown directive 'maxage'"),
        (["image/*="], "image/*=: give one or more directives"),
        (["no-cache", "max-age=60"], "max-age=60: a value for every type is given"),
        (
            ["text/css=no-cache", "TEXT/CSS=max-age=1"],
            "a value for text/css is given twice",
        ),
        (["*/*=no-cache"], "'*/*' is not a content type: write TYPE/SUBTYPE=VALUE"),
        (["image/p*g=no-cache"], "'image/p*g' is not a content type"),
        (["im age/png=no-cache"], "'im age/png' is not a content type"),
    ],
)
def test_fromArgumentsRefuses(arguments, message):
    with pytest.raises(ValueError) as info:
        CacheControl.fromArguments(arguments)
    assert message in str(info.value)


def test_entityTag():
    """
    The tag is the modification time in nanoseconds and the size, in hex.
    """
    assert entityTag(255, 0x18ED39D7CB4A9362) == b'"18ed39d7cb4a9362-ff"'
    assert entityTag(0, 0) == b'"0-0"'


def test_options():
    """
    C{--cache-control}, repeated, and C{--digest-max-age} reach the
    settings, and the digest cookie's Max-Age its push configuration.
    """
    settings = parse(
        "--cache-control",
        "text/html=no-cache",
        "--cache-control",
        "max-age=60",
        "--digest-max-age",
        "86400",
    )
    assert settings.cacheControl == CacheControl(
        "max-age=60", {"text/html": "no-cache"}
    )
    assert settings.digestMaxAge == 86400
    assert settings.pushConfig(None).cookieMaxAge == 86400
    defaults = parse()
    assert defaults.cacheControl == CacheControl()
    assert defaults.pushConfig(None).cookieMaxAge == 30 * 24 * 3600


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--cache-control", "max-age=soon"],
            "--cache-control max-age=soon: max-age takes a number of seconds: "
            "write max-age=86400",
        ),
        (
            ["--cache-control", "no-cache", "--cache-control", "no-store"],
            "--cache-control no-store: a value for every type is given twice",
        ),
        (["--digest-max-age", "0"], "--digest-max-age 0: give a whole number from 1"),
        (["--digest-max-age", "99999999"], "--digest-max-age 99999999: give a whole"),
    ],
)
def test_badOptions(arguments, message, capsys):
    """
    A wrong value is one line naming the option, with exit status 64.
    """
    with pytest.raises(SystemExit) as info:
        parse(*arguments)
    assert info.value.code == 64
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"twist txpush: {message}")


@SCHEMES
def test_smallAndLargeFilesAlike(plain, scheme):
    """
    A small file (served from memory once settled) and one larger than
    L{DEFAULT_MAX_FILE_BYTES} (streamed from disk) get the same headers,
    on GET and on HEAD, and their whole bytes.
    """
    server, site = plain
    large = site / "sub" / "large.txt"
    if not large.exists():
        large.write_bytes(NOTES * (DEFAULT_MAX_FILE_BYTES // len(NOTES) + 2))
    for path, file in [(b"/style.css", site / "style.css"), (b"/sub/large.txt", large)]:
        body = file.read_bytes()
        for method in (b"GET", b"HEAD"):
            stream = fetch(server, scheme, path, method=method)
            assert stream.status == 200, (path, method)
            assert stream.body == (body if method == b"GET" else b"")
            assert stream.header(b"content-length") == b"%d" % len(body)
            assert stream.header(b"accept-ranges") == b"bytes"
            assert stream.header(b"etag") == tagOf(file)
            assert stream.header(b"content-type") is not None
