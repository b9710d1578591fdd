"""
The pure parts of hints learned from Link headers: L{LinkHintMemory}, the
other origins of a page's links, and which requests may be navigations.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import Asset, asset
from txpush.linkheader import OtherOrigin, formatPreconnectLink, parseOtherOrigins
from txpush.linkhints import LinkHintConfig, LinkHintMemory
from txpush.session import PageRequest

STYLE = asset(b"/style.css")
APP = asset(b"/app.js")
FONT = asset(b"/font.woff2")
CDN = OtherOrigin(b"https://cdn.example")


def test_rememberedUntilMissingFromTheLastResponses():
    """
    An asset is hinted while any of the page's last responses listed it,
    and dropped once the last three did not.
    """
    memory = LinkHintMemory()
    memory.responded(b"/", [STYLE, APP], [CDN])
    assert memory.hintsFor(b"/").assets == (STYLE, APP)
    assert memory.hintsFor(b"/").origins == (CDN,)
    memory.responded(b"/", [STYLE])
    memory.responded(b"/", [STYLE, FONT])
    assert memory.hintsFor(b"/").assets == (STYLE, FONT, APP)
    memory.responded(b"/", [STYLE])
    assert memory.hintsFor(b"/").assets == (STYLE, FONT)
    assert memory.hintsFor(b"/").origins == ()
    assert memory.hintsFor(b"/other").assets == ()


def test_memoryIsBounded():
    """
    Past its pages, the least recently answered goes; a response's links
    and origins are cut to their bounds.
    """
    config = LinkHintConfig(maxPages=2, maxLinksPerResponse=1, maxOriginsPerResponse=1)
    memory = LinkHintMemory(config)
    memory.responded(b"/a", [STYLE, APP], [CDN, OtherOrigin(b"https://x.example")])
    memory.responded(b"/b", [STYLE])
    memory.responded(b"/a", [APP])
    memory.responded(b"/c", [STYLE])
    assert len(memory) == 2
    assert memory.hintsFor(b"/b").assets == ()
    assert memory.hintsFor(b"/a").assets == (APP, STYLE)
    assert memory.hintsFor(b"/a").origins == (CDN,)


@pytest.mark.parametrize(
    "field", ["responses", "maxPages", "maxLinksPerResponse", "maxOriginsPerResponse"]
)
def test_configRefusesNothing(field):
    """
    Each bound must be 1 or more, and the error names it.
    """
    with pytest.raises(ValueError, match=field):
        LinkHintConfig(**{field: 0})


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"/a", b"/b", b"/c", b"/d"]),
            st.lists(st.sampled_from([STYLE, APP, FONT]), max_size=5),
        ),
        max_size=40,
    )
)
def test_hintsComeFromTheLastResponsesOnly(responses):
    """
    Whatever the traffic, the memory keeps at most its pages, and a page's
    hints are exactly the assets of its last three responses, each once.
    """
    memory = LinkHintMemory(LinkHintConfig(maxPages=3))
    # A plain model: each page's responses since it last entered the memory.
    model: dict[bytes, list[list[Asset]]] = {}
    for page, assets in responses:
        memory.responded(page, assets)
        if page in model or assets:
            model[page] = [*model.pop(page, []), assets]
        while len(model) > 3:
            del model[next(iter(model))]
        assert len(memory) == len(model)
    for page in (b"/a", b"/b", b"/c", b"/d"):
        recent = model.get(page, [])[-3:]
        expected = {a.path for assets in recent for a in assets}
        hinted = memory.hintsFor(page).assets
        assert {a.path for a in hinted} == expected
        assert len(hinted) == len(expected)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([b"<https://cdn.example/a.css>; rel=preload; as=style"], [CDN]),
        (
            [b"<https://Fonts.Example:8443/f.woff2>; rel=preload; as=font"],
            [OtherOrigin(b"https://fonts.example:8443", True)],
        ),
        (
            [b"<https://cdn.example>; rel=preconnect; crossorigin"],
            [OtherOrigin(b"https://cdn.example", True)],
        ),
        (
            [
                b"<https://cdn.example/a.js>; rel=preload, "
                b"<https://cdn.example/b.js>; rel=preload; crossorigin"
            ],
            [OtherOrigin(b"https://cdn.example", True)],
        ),
        ([b"<https://example.com/own.css>; rel=preload"], []),
        ([b"</own.css>; rel=preload"], []),
        ([b"<https://cdn.example/a.css>; rel=stylesheet"], []),
        ([b"<ftp://cdn.example/a.css>; rel=preload"], []),
        ([b"<https://cdn.exa mple/a.css>; rel=preload"], []),
        ([b"<https://user@cdn.example/a.css>; rel=preload"], []),
        ([b"<https://cdn.example/a\r\n.css>; rel=preload"], []),
    ],
)
def test_otherOrigins(values, expected):
    """
    The origins of other sites that preload or preconnect links name, each
    once, with crossorigin when any of their links asked for it or is a
    font; the page's own origin, other rels and odd URLs are skipped.
    """
    assert parseOtherOrigins(values, b"https", b"example.com") == expected


def test_otherOriginsAreBounded():
    """
    The search stops at its bound.
    """
    values = [b"<https://h%d.example/x.js>; rel=preload" % n for n in range(10)]
    assert len(parseOtherOrigins(values, maxOrigins=3)) == 3
    assert parseOtherOrigins(values, maxOrigins=0) == []


def test_formatPreconnectLink():
    """
    A preconnect link, with crossorigin when asked.
    """
    assert formatPreconnectLink(CDN) == b"<https://cdn.example>; rel=preconnect"
    assert formatPreconnectLink(OtherOrigin(b"https://f.example", True)) == (
        b"<https://f.example>; rel=preconnect; crossorigin"
    )


@pytest.mark.parametrize(
    ("mode", "dest", "navigation"),
    [
        (None, None, True),
        (b"navigate", b"document", True),
        (b"navigate", b"iframe", True),
        (None, b"document", True),
        (b"cors", b"empty", False),
        (b"no-cors", b"image", False),
        (b"no-cors", b"script", False),
        (b"same-origin", None, False),
    ],
)
def test_mayBeNavigation(mode, dest, navigation):
    """
    A request is taken for a navigation when its Sec-Fetch headers say so,
    or when it has none.
    """
    request = PageRequest(
        method=b"GET", path=b"/", uri=b"/", fetchMode=mode, fetchDest=dest
    )
    assert request.mayBeNavigation() is navigation


def test_assetsKeepTheirType():
    """
    The first listing of a path gives its type.
    """
    memory = LinkHintMemory()
    memory.responded(b"/", [Asset(b"/data.json", "fetch")])
    memory.responded(b"/", [Asset(b"/data.json", None)])
    assert memory.hintsFor(b"/").assets == (Asset(b"/data.json", None),)


def test_pagesWithoutLinksTakeNoPlace():
    """
    A page that never listed anything is not remembered, and does not push
    out one that did.
    """
    memory = LinkHintMemory(LinkHintConfig(maxPages=1))
    memory.responded(b"/a", [STYLE])
    memory.responded(b"/plain", [])
    assert len(memory) == 1 and memory.hintsFor(b"/a").assets == (STYLE,)
