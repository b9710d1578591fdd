"""
Preload links in C{Link} headers: what the parser keeps, what it skips,
its bounds, and the formatter it must agree with.
"""

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import Asset, asset, guessAsType, pathProblem
from txpush.linkheader import (
    DEFAULT_MAX_LINKS,
    MAX_LINK_HEADER_BYTES,
    PreloadLink,
    formatPreloadLink,
    formatPreloadLinks,
    parsePreloadLinks,
)

HTTPS = b"https"
AUTHORITY = b"example.com:8443"


def parse(*values, **kwargs):
    """
    Parse field values for a page of C{https://example.com:8443}.
    """
    return parsePreloadLinks(list(values), HTTPS, AUTHORITY, **kwargs)


def paths(links):
    """
    The paths of parsed links, in order.
    """
    return [link.asset.path for link in links]


def test_oneLink():
    """
    A preload link gives its asset, with the type its C{as} says.
    """
    assert parse(b"</style.css>; rel=preload; as=style") == [
        PreloadLink(Asset(b"/style.css", "style"), False)
    ]


def test_severalLinksAndFields():
    """
    Links come from every field value, several per value, in header order.
    """
    links = parse(
        b"</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script",
        b"</c.woff2>; rel=preload; as=font; crossorigin",
    )
    assert links == [
        PreloadLink(Asset(b"/a.css", "style")),
        PreloadLink(Asset(b"/b.js", "script")),
        PreloadLink(Asset(b"/c.woff2", "font")),
    ]


def test_commasInQuotedStrings():
    """
    A comma inside a quoted parameter value does not end the link, and what
    follows it is not read as a link of its own.
    """
    value = b'</a.css>; rel=preload; title="x, </evil.css>; rel=preload, y"'
    assert paths(parse(value)) == [b"/a.css"]
    escaped = b'</a.css>; rel=preload; title="q\\", </evil.css>; rel=preload"'
    assert paths(parse(escaped)) == [b"/a.css"]


def test_commasInTargets():
    """
    A comma inside C{<...>} does not end the link either.  (The target is
    then refused, as assets cannot hold commas, but the next link is read.)
    """
    assert parse(b"</a,</evil.css>; rel=preload") == []
    assert paths(parse(b"</a,b.css>; rel=preload, </c.css>; rel=preload")) == [
        b"/c.css"
    ]


@pytest.mark.parametrize(
    "params",
    [
        b"rel=preload",
        b"REL=PreLoad",
        b'rel="preload"',
        b'rel="prefetch preload"',
        b'rel="preload  prefetch"',
        b'rel="prefetch\tPRELOAD"',
        b"rel=preload; rel=prefetch",
        b"title=x; rel=preload",
        b"rel = preload",
        b"rel=preload ;",
        b"rel=preload;",
        b" rel=preload ; as = script ",
    ],
)
def test_preloadRelations(params):
    """
    C{rel} holds C{preload} in any case, alone or in a list; the first
    C{rel} counts; blanks around C{;} and C{=} are allowed.
    """
    assert paths(parse(b"</app.js>;" + params)) == [b"/app.js"]
    assert paths(parse(b"</app.js> ;" + params)) == [b"/app.js"]


@pytest.mark.parametrize(
    "params",
    [
        b"",
        b"; rel=prefetch",
        b"; rel=preloaded",
        b'; rel="pre load"',
        b"; rel",
        b'; rel=""',
        b"; rel=prefetch; rel=preload",
        b"; REL=stylesheet",
        b"; relx=preload",
    ],
)
def test_otherRelations(params):
    """
    Links that are not preloads are skipped.
    """
    assert parse(b"</app.js>" + params) == []


@pytest.mark.parametrize(
    ("params", "nopush"),
    [
        (b"title=x", False),
        (b"nopush", True),
        (b"NoPush", True),
        (b"nopush=1", True),
        (b'nopush="yes"', True),
        (b"nopush=0", True),
    ],
)
def test_nopush(params, nopush):
    """
    C{nopush}, in any case, with any value or none, marks the link.
    """
    assert parse(b"</a.css>; rel=preload; " + params) == [
        PreloadLink(Asset(b"/a.css", "style"), nopush)
    ]


@pytest.mark.parametrize(
    ("params", "asType"),
    [
        (b"; as=style", "style"),
        (b"; AS=Script", "script"),
        (b'; as="Font"', "font"),
        (b'; as="st\\yle"', "style"),
        (b"; as=image; as=script", "image"),
        (b"", "script"),
    ],
)
def test_asParameter(params, asType):
    """
    C{as} is lower-cased (escapes in quoted values undone, the first one
    counting); without it, the type is guessed from the path.
    """
    [link] = parse(b"</app.js>; rel=preload" + params)
    assert link.asset.asType == asType


def test_noTypeWhenUnknown():
    """
    Without C{as} and without a known extension, the type is L{None}.
    """
    [link] = parse(b"</api/data>; rel=preload")
    assert link.asset == Asset(b"/api/data", None)


@pytest.mark.parametrize("params", [b"; as", b'; as=""', b'; as="sty le"', b"; as=1x"])
def test_badAsSkipsLink(params):
    """
    A link whose C{as} could not be written back is skipped.
    """
    assert parse(b"</app.js>; rel=preload" + params) == []


@pytest.mark.parametrize(
    ("target", "path"),
    [
        (b"https://example.com:8443/a.css", b"/a.css"),
        (b"HTTPS://EXAMPLE.COM:8443/a.css?v=1", b"/a.css?v=1"),
        (b"https://example.com:8443", b"/"),
        (b"https://example.com:8443#x", b"/"),
        (b"/a.css#frag", b"/a.css"),
        (b"/a.css?x#frag", b"/a.css?x"),
    ],
)
def test_sameOriginTargets(target, path):
    """
    Absolute URLs of the page's origin give their path; a fragment is
    dropped.
    """
    assert paths(parse(b"<" + target + b">; rel=preload")) == [path]


@pytest.mark.parametrize(
    "target",
    [
        b"a.css",
        b"./a.css",
        b"../a.css",
        b"",
        b"//example.com:8443/a.css",
        b"//evil.example/a.css",
        b"http://example.com:8443/a.css",
        b"https://example.com/a.css",
        b"https://example.com:443/a.css",
        b"https://user@example.com:8443/a.css",
        b"https://evil.example/a.css",
        b"https://example.com:8443?q",
        b"data:text/css,x",
        b"mailto:x@example.com",
        b"/a/../b.css",
        b"/../etc/passwd",
        b"/a/./b.css",
        b"/a/%2e%2e/b.css",
        b"/a/%2E./b.css",
        b"/a/.%2E/b.css",
        b"/%2e%2e%2fetc/passwd",
        b"/a\\..\\b.css",
        b"/a%5c..%5cb.css",
        b"/a%00.css",
        b"/caf\xc3\xa9.css",
        b"/a b.css",
        b"/a\tb.css",
        b"/a;b.css",
        b"/a%zz.css",
        b" /a.css",
    ],
)
def test_skippedTargets(target):
    """
    Relative, scheme-relative, other-origin, unsafe and malformed targets
    are skipped, and the links around them are still read.
    """
    value = b"</first.css>; rel=preload, <" + target + b">; rel=preload, </last.js>"
    assert paths(parse(value + b"; rel=preload")) == [b"/first.css", b"/last.js"]


def test_absoluteURLsNeedTheOrigin():
    """
    Without the page's scheme and authority, absolute URLs are skipped.
    """
    value = b"<https://example.com:8443/a.css>; rel=preload, </b.css>; rel=preload"
    assert paths(parsePreloadLinks([value])) == [b"/b.css"]
    assert paths(parsePreloadLinks([value], HTTPS)) == [b"/b.css"]
    assert paths(parsePreloadLinks([value], None, AUTHORITY)) == [b"/b.css"]


@pytest.mark.parametrize(
    "link",
    [
        b"</a.css",
        b"/a.css; rel=preload",
        b"</a.css> rel=preload",
        b"</a.css>; rel=preload x",
        b'</a.css>; rel=preload "x"',
        b"</a.css>; =x; rel=preload",
        b"</a.css>; rel=preload; nopush=",
        b"</a.css>; rel=preload; title=a b",
        b'</a.css>; rel=preload; title="open',
        b"</a.css>; rel=preload; title=\xc3\xa9",
        b'</a.css>; rel=preload; title="\xc3\xa9"',
        b"</a.css>; rel=preload; x=\r\n",
        b"</a.css>; rel=preload\x00",
        b"</a.css>; rel=preload\n",
        b"</a.css>; rel=pre\x00load",
        b"<</a.css>>; rel=preload",
    ],
)
def test_malformedLinks(link):
    """
    Malformed links, and links with bytes other than tab and printable
    ASCII, are skipped; well-formed ones in other fields are kept.
    """
    assert parse(link) == []
    assert paths(parse(link, b"</ok.js>; rel=preload")) == [b"/ok.js"]


def test_emptyElements():
    """
    Empty list elements are allowed, as in any HTTP list.
    """
    assert paths(parse(b", ,</a.js>; rel=preload,, ", b"", b" ")) == [b"/a.js"]


def test_duplicates():
    """
    One link per path, where it first appears, with the first type; a
    C{nopush} on any duplicate wins.
    """
    links = parse(
        b"</a.css>; rel=preload; as=style, </b.js>; rel=preload",
        b"</a.css>; rel=preload; as=fetch; nopush, </b.js>; rel=preload",
        b"</c.png>; rel=preload, </a.css>; rel=preload",
    )
    assert links == [
        PreloadLink(Asset(b"/a.css", "style"), True),
        PreloadLink(Asset(b"/b.js", "script"), False),
        PreloadLink(Asset(b"/c.png", "image"), False),
    ]


def test_maxLinks():
    """
    The search stops after C{maxLinks} links; the default is
    L{DEFAULT_MAX_LINKS}.
    """
    value = b", ".join(b"</a%d.js>; rel=preload" % number for number in range(100))
    assert DEFAULT_MAX_LINKS == 64
    assert paths(parse(value)) == [b"/a%d.js" % number for number in range(64)]
    assert paths(parse(value, maxLinks=3)) == [b"/a0.js", b"/a1.js", b"/a2.js"]
    assert parse(value, maxLinks=0) == []
    assert parse(value, maxLinks=-1) == []


def test_maxLinksCountsPathsOnce():
    """
    Duplicates do not count towards C{maxLinks}.
    """
    value = b"</a.js>; rel=preload, </a.js>; rel=preload, </b.js>; rel=preload"
    assert paths(parse(value, maxLinks=2)) == [b"/a.js", b"/b.js"]


def _padded(link, size):
    """
    A field value of exactly C{size} bytes that ends with C{link}.
    """
    return b" " * (size - len(link)) + link


def test_byteCap():
    """
    Field values are read while their total stays within
    L{MAX_LINK_HEADER_BYTES}; the value that would go past it and all after
    it are ignored whole.
    """
    assert MAX_LINK_HEADER_BYTES == 16 * 1024
    link = b"</a.js>; rel=preload"
    later = b"</b.js>; rel=preload"
    assert paths(parse(_padded(link, MAX_LINK_HEADER_BYTES))) == [b"/a.js"]
    assert paths(parse(_padded(link, MAX_LINK_HEADER_BYTES + 1))) == []
    assert paths(parse(_padded(link, MAX_LINK_HEADER_BYTES), later)) == [b"/a.js"]
    half = MAX_LINK_HEADER_BYTES // 2
    assert paths(parse(_padded(link, half), _padded(later, half))) == [
        b"/a.js",
        b"/b.js",
    ]
    assert paths(
        parse(_padded(link, half), _padded(later, half + 1), b"</c.js>; rel=preload")
    ) == [b"/a.js"]


def test_notBytes():
    """
    Values that are not bytes are skipped.
    """
    links = parsePreloadLinks(
        ["</a.js>; rel=preload", None, 3, b"</b.js>; rel=preload"],  # type: ignore[list-item]
        HTTPS,
        AUTHORITY,
    )
    assert paths(links) == [b"/b.js"]


@pytest.mark.parametrize(
    ("made", "value"),
    [
        (asset("/style.css"), b"</style.css>; rel=preload; as=style"),
        (asset("/app.js?v=2"), b"</app.js?v=2>; rel=preload; as=script"),
        (asset("/f.woff2"), b"</f.woff2>; rel=preload; as=font; crossorigin"),
        (asset("/d.json"), b"</d.json>; rel=preload; as=fetch; crossorigin"),
        (asset("/i.png"), b"</i.png>; rel=preload; as=image"),
        (asset("/page"), b"</page>; rel=preload"),
    ],
)
def test_formatPreloadLink(made, value):
    """
    A preload link with the asset's type, and C{crossorigin} for fonts and
    fetched data.
    """
    assert formatPreloadLink(made) == value
    assert formatPreloadLink(made, nopush=True) == value + b"; nopush"


def test_formatPreloadLinks():
    """
    One field value per asset, in order.
    """
    assets = [asset("/a.css"), asset("/b.js"), asset("/a.css")]
    assert formatPreloadLinks(assets) == [formatPreloadLink(a) for a in assets]
    assert formatPreloadLinks([]) == []


# Pieces of link headers, so that random values are often nearly right.
_LINK_PIECES = st.sampled_from(
    [
        b"<",
        b">",
        b"/",
        b"a.css",
        b"b.js",
        b"f.woff2",
        b";",
        b",",
        b"=",
        b'"',
        b"\\",
        b" ",
        b"\t",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"rel",
        b"preload",
        b"rel=preload",
        b"as",
        b"style",
        b"nopush",
        b"..",
        b"%2e",
        b"%2E",
        b".",
        b"//",
        b"https://example.com:8443",
        b"https://evil",
        b"?",
        b"#",
        b"%5c",
    ]
)
_FIELD_VALUES = st.lists(
    st.one_of(st.binary(max_size=60), st.lists(_LINK_PIECES).map(b"".join)),
    max_size=6,
)


@given(_FIELD_VALUES, st.integers(min_value=-1, max_value=8))
def test_anyHeaderGivesSafeLinks(values, maxLinks):
    """
    Whatever the header, the parser does not raise, returns at most
    C{maxLinks} links with distinct paths, and each is a valid asset of the
    page's own site.
    """
    links = parse(*values, maxLinks=maxLinks)
    assert len(links) <= max(maxLinks, 0)
    assert len({link.asset.path for link in links}) == len(links)
    for link in links:
        assert isinstance(link, PreloadLink)
        assert isinstance(link.nopush, bool)
        path = link.asset.path
        assert pathProblem(path) is None
        assert path.startswith(b"/") and not path.startswith(b"//")
        assert Asset(path, link.asset.asType) == link.asset


@given(st.lists(st.text(max_size=30), max_size=4))
def test_anyTextGivesSafeLinks(values):
    """
    Text encoded as UTF-8 is no different.
    """
    for link in parse(*(value.encode("utf-8", "surrogatepass") for value in values)):
        assert pathProblem(link.asset.path) is None


# Valid asset paths: segments that are not "." or "..", the first one not
# empty (or the path would name a host), percent-escapes, a query.
_SEGMENT_CHARACTERS = "abzAZ09-._~!$&'()*+=:@"
_SEGMENTS = st.text(alphabet=_SEGMENT_CHARACTERS, max_size=8).filter(
    lambda segment: segment not in (".", "..")
)
_ESCAPES = st.sampled_from(["", "%20", "%2C", "%3B", "%C3%A9", "%25"])
_QUERIES = st.none() | st.text(alphabet=_SEGMENT_CHARACTERS + "/?%2C", max_size=10)
_PATHS = st.builds(
    lambda first, rest, escape, query: (
        "/"
        + "/".join([first, *rest])
        + escape
        + ("" if query is None else "?" + query.replace("%", "%25"))
    ).encode("ascii"),
    _SEGMENTS.filter(bool),
    st.lists(_SEGMENTS, max_size=4),
    _ESCAPES,
    _QUERIES,
)
_AS_TYPES = st.sampled_from(
    [None, "style", "script", "font", "image", "fetch", "audioworklet", "x-1"]
)
_ASSETS = st.builds(Asset, _PATHS, _AS_TYPES)


@given(_ASSETS, st.booleans())
def test_roundTrip(made, nopush):
    """
    A formatted link parses back to its asset; without a type, the parser
    guesses one from the path, as it does for any link without C{as}.
    """
    expected = made
    if made.asType is None:
        expected = attrs.evolve(made, asType=guessAsType(made.path))
    assert parsePreloadLinks([formatPreloadLink(made, nopush)]) == [
        PreloadLink(expected, nopush)
    ]


@given(_PATHS, _AS_TYPES)
def test_roundTripOfMadeAssets(path, asType):
    """
    Assets made with L{asset} (which guesses types as the parser does) make
    the round trip exactly.
    """
    made = asset(path, asType)
    assert parsePreloadLinks([formatPreloadLink(made)]) == [PreloadLink(made, False)]


@given(st.lists(_ASSETS, max_size=10))
def test_roundTripOfLists(assets):
    """
    Several formatted links, in one field or several, parse back in order,
    once per path.
    """
    values = formatPreloadLinks(assets)
    expected = list(dict.fromkeys(made.path for made in assets))
    assert paths(parsePreloadLinks(values)) == expected
    assert paths(parsePreloadLinks([b", ".join(values)] if values else [])) == expected
