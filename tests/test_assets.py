"""
Assets: which paths are valid, how their type is guessed, and which are
blocking or need C{crossorigin}.
"""

from urllib.parse import unquote_to_bytes

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import (
    BLOCKING_AS_TYPES,
    CROSS_ORIGIN_AS_TYPES,
    MAX_PATH_LENGTH,
    Asset,
    asset,
    asTypeProblem,
    crossOriginRequired,
    guessAsType,
    isBlocking,
    pathProblem,
)


@pytest.mark.parametrize(
    ("path", "asType"),
    [
        (b"/style.css", "style"),
        (b"/app.js", "script"),
        (b"/app.mjs", "script"),
        (b"/f.woff2", "font"),
        (b"/f.woff", "font"),
        (b"/f.ttf", "font"),
        (b"/f.otf", "font"),
        (b"/i.png", "image"),
        (b"/i.jpg", "image"),
        (b"/i.jpeg", "image"),
        (b"/i.gif", "image"),
        (b"/i.webp", "image"),
        (b"/i.avif", "image"),
        (b"/i.svg", "image"),
        (b"/favicon.ico", "image"),
        (b"/data.json", "fetch"),
        (b"/STYLE.CSS", "style"),
        (b"/a/b.min.js?v=2.css", "script"),
        (b"/a.css#x.js", "style"),
        (b"/page.html", None),
        (b"/app.js.map", None),
        (b"/README", None),
        (b"/dir.css/", None),
        (b"/", None),
        (b"/?x.css", None),
        (b"", None),
    ],
)
def test_guessAsType(path, asType):
    """
    The type comes from the extension of the last segment, in any case; the
    query and fragment are ignored.
    """
    assert guessAsType(path) == asType


@pytest.mark.parametrize(
    "path",
    [
        b"/",
        b"/app.js?v=2",
        b"/a%20b.css",
        b"/a/b/c.png",
        b"/x?y=../z",
        b"/a..b.css",
        b"/.well-known/x.json",
        b"/...",
        b"/a//b.css",
        b"/~user/a-b_c.css",
        b"/a!$&'()*+=:@.css",
        b"/%2E%2Ex.css",
        b"/" + b"a" * (MAX_PATH_LENGTH - 1),
    ],
)
def test_validPaths(path):
    """
    Absolute paths of RFC 3986 characters (without C{,} and C{;}), up to
    MAX_PATH_LENGTH bytes, whose segments are not C{.} or C{..}.
    """
    assert pathProblem(path) is None
    assert Asset(path).path == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (b"", "is empty"),
        (b"/" + b"a" * MAX_PATH_LENGTH, "longer than 2048 bytes"),
        (b"/a b.css", "spaces, control or non-ASCII"),
        (b"/a\tb.css", "spaces, control or non-ASCII"),
        (b"/a\r\nb.css", "spaces, control or non-ASCII"),
        (b"/a\x00.css", "spaces, control or non-ASCII"),
        (b"/a\x7f.css", "spaces, control or non-ASCII"),
        ("/caf\u00e9.css".encode(), "spaces, control or non-ASCII"),
        (b"/a.css#top", 'has a fragment.*"#top"'),
        (b"/a<b.css", "holds '<'"),
        (b"/a>b.css", "holds '>'"),
        (b"/a,b.css", "holds ','"),
        (b"/a;b.css", "holds ';'"),
        (b"/a.css?x=1,2", "holds ','"),
        (b'/a"b.css', "holds '\"'"),
        (b"/a\\b.css", r"holds '\\\\'"),
        (b"/a{b}.css", "holds '{' '}'"),
        (b"/a%2.css", "% not followed by two hex digits"),
        (b"/a%zz.css", "% not followed by two hex digits"),
        (b"//cdn.example/a.css", "scheme-relative"),
        (b"style.css", 'not an absolute path: write it as "/style.css"'),
        (b"./css/a.css", 'not an absolute path: write it as "/css/a.css"'),
        (b"https://cdn.example/a.css", 'is a URL.*"/a.css"'),
        (b"../a.css", "climbs with \\.\\."),
        (b"/..", r"\. or \.\. segment"),
        (b"/.", r"\. or \.\. segment"),
        (b"/a/../b.css", r"\. or \.\. segment"),
        (b"/a/./b.css", r"\. or \.\. segment"),
        (b"/a/%2e%2e/b.css", r"\. or \.\. segment"),
        (b"/a/%2E./b.css", r"\. or \.\. segment"),
        (b"/a/.%2E/b.css", r"\. or \.\. segment"),
        (b"/a/%2e/b.css", r"\. or \.\. segment"),
        (b"/..%2Fetc/passwd", r"\. or \.\. segment"),
        (b"/a%2F..%2F..%2Fb", r"\. or \.\. segment"),
        (b"/..?x", r"\. or \.\. segment"),
        (b"/a%5Cb.css", "encoded backslash"),
        (b"/a%5c..%5cb.css", "encoded backslash"),
        (b"/a%00.css", "encoded NUL"),
    ],
)
def test_refusedPaths(path, reason):
    """
    Each refused path is refused by L{pathProblem} and by L{Asset}, with a
    message that says why.
    """
    problem = pathProblem(path)
    assert problem is not None
    with pytest.raises(ValueError, match=reason) as info:
        Asset(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("asset path ")


def test_pathMustBeBytes():
    """
    A text path given to L{Asset} is a L{TypeError}: L{asset} takes text.
    """
    with pytest.raises(TypeError, match="must be bytes, not str"):
        Asset("/a.css")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "asType", [None, "style", "script", "font", "image", "fetch", "audioworklet"]
)
def test_validAsTypes(asType):
    """
    L{None} and lower-case words are valid types.
    """
    assert asTypeProblem(asType) is None
    assert Asset(b"/x", asType).asType == asType


@pytest.mark.parametrize(
    "asType", ["", "Style", "sty le", "style;", "1font", "a" * 33, 3, b"style"]
)
def test_refusedAsTypes(asType):
    """
    Empty, upper-case, non-word, over-long and non-text types are refused.
    """
    assert asTypeProblem(asType) is not None
    with pytest.raises(ValueError, match="asset type"):
        Asset(b"/x", asType)


def test_assetIsFrozenAndComparable():
    """
    Assets are immutable values, equal when path and type are.
    """
    first = Asset(b"/a.css", "style")
    assert first == Asset(b"/a.css", "style")
    assert first != Asset(b"/a.css")
    assert len({first, Asset(b"/a.css", "style")}) == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.path = b"/b.css"  # type: ignore[misc]


def test_assetConvenience():
    """
    L{asset} takes text or bytes, guesses the type when not given, and
    lower-cases the one it is given.
    """
    assert asset("/a.css") == Asset(b"/a.css", "style")
    assert asset(b"/a.css", "preload-me") == Asset(b"/a.css", "preload-me")
    assert asset("/f.woff2", "FONT") == Asset(b"/f.woff2", "font")
    assert asset("/page") == Asset(b"/page", None)
    with pytest.raises(ValueError, match="not ASCII"):
        asset("/caf\u00e9.css")
    with pytest.raises(ValueError, match="not an absolute path"):
        asset("a.css")
    with pytest.raises(TypeError, match="bytes or str"):
        asset(3)  # type: ignore[arg-type]


def test_blocking():
    """
    Stylesheets and scripts are the blocking assets.
    """
    assert frozenset({"style", "script"}) == BLOCKING_AS_TYPES
    assert isBlocking(asset("/a.css"))
    assert isBlocking(asset("/a.js"))
    assert not isBlocking(asset("/f.woff2"))
    assert not isBlocking(asset("/i.png"))
    assert not isBlocking(asset("/page"))


def test_crossOriginRequired():
    """
    Fonts and fetch() data are preloaded in CORS mode; the rest are not.
    """
    assert crossOriginRequired("font")
    assert crossOriginRequired("fetch")
    for asType in ("style", "script", "image", None):
        assert not crossOriginRequired(asType)
    assert {"font", "fetch"} == CROSS_ORIGIN_AS_TYPES


# Bytes that matter to the rules, so that random paths often hit them.
_PATH_PIECES = st.sampled_from(
    [
        b"/",
        b".",
        b"..",
        b"%2e",
        b"%2E",
        b"%2f",
        b"%5c",
        b"%00",
        b"%",
        b"?",
        b"#",
        b"a",
        b"b.css",
        b",",
        b";",
        b"<",
        b">",
        b"\\",
        b" ",
        b"\xc3\xa9",
        b"%41",
    ]
)


@given(st.one_of(st.binary(max_size=40), st.lists(_PATH_PIECES).map(b"".join)))
def test_anyPathIsValidOrRefused(path):
    """
    Whatever the bytes, L{Asset} accepts exactly the paths L{pathProblem}
    finds no problem with, and those can be neither relative, nor of another
    host, nor climb out of the site, nor break a Link header.
    """
    problem = pathProblem(path)
    try:
        made = Asset(path)
    except ValueError as error:
        assert problem is not None
        assert problem in str(error)
        return
    assert problem is None
    assert made.path.startswith(b"/") and not made.path.startswith(b"//")
    assert len(made.path) <= MAX_PATH_LENGTH
    assert not set(made.path) & set(b' \t\r\n\x00#<>,;"\\')
    assert all(0x21 <= byte <= 0x7E for byte in made.path)
    decoded = unquote_to_bytes(made.path.split(b"?", 1)[0])
    assert b"\\" not in decoded
    assert all(segment not in (b".", b"..") for segment in decoded.split(b"/"))
