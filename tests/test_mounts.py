"""
Directories mounted beside a root (C{--static}) and headers added around it
(C{--add-header}) find the same resources as the root served alone, in
memory, as C{Site} finds them.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.web.resource import Resource, getChildForRequest
from twisted.web.static import Data
from twisted.web.test.requesthelper import DummyRequest

from txpush.mounts import AddedHeaders, MountedResources, prefixSegments


class Leaf(Resource):
    """A leaf root, as a C{WSGIResource} is: it records the path it got."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[list[bytes], list[bytes]]] = []

    def render(self, request: Any) -> bytes:
        self.seen.append((list(request.prepath), list(request.postpath)))
        return b"leaf"


class Body(Data):
    """A leaf that answers a fixed body, as a file does."""

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__(body, "text/plain")


def find(root: Any, path: bytes) -> tuple[Any, DummyRequest]:
    """The resource Site finds for path, and the request after the search."""
    request = DummyRequest(path.split(b"/")[1:])
    return getChildForRequest(root, request), request


def mounted(leaf: Leaf) -> MountedResources:
    return MountedResources(
        leaf,
        {
            (b"static",): Body(b"static"),
            (b"static", b"img"): Body(b"images"),
            (b"assets", b"v2"): Body(b"v2"),
        },
    )


@pytest.mark.parametrize(
    ("path", "body", "postpath"),
    [
        (b"/static/style.css", b"static", [b"style.css"]),
        (b"/static/img/logo.svg", b"images", [b"logo.svg"]),
        (b"/static/imgs/logo.svg", b"static", [b"imgs", b"logo.svg"]),
        (b"/assets/v2/app.js", b"v2", [b"app.js"]),
    ],
)
def test_prefixServesItsResource(path, body, postpath):
    """
    A path under a prefix gets the prefix's resource, the longest prefix
    first, with the rest of the path left to it.
    """
    resource, request = find(mounted(Leaf()), path)
    assert resource.render(request) == body
    assert request.postpath == postpath


@pytest.mark.parametrize(
    "path",
    [b"/", b"/static", b"/staticx/a", b"/assets/v1/app.js", b"/a/b/c", b"/assets"],
)
def test_otherPathsAreTheRoots(path):
    """
    Any other path, the bare prefix without its slash included, reaches a
    leaf root with the whole path, as if it were served alone.
    """
    alone, viaMounts = Leaf(), Leaf()
    resource, request = find(alone, path)
    resource.render(request)
    resource, request = find(mounted(viaMounts), path)
    assert resource is viaMounts
    resource.render(request)
    assert viaMounts.seen == alone.seen


segment = st.binary(min_size=0, max_size=6).filter(lambda s: b"/" not in s)


@given(st.lists(segment, min_size=1, max_size=5))
def test_anyPathAsTheRootAloneSeesIt(segments):
    """
    For any path under no prefix, a leaf root behind the mounts and the
    added headers gets the prepath and postpath it gets alone.
    """
    path = b"/" + b"/".join(segments)
    if segments[0] in (b"static", b"assets") and len(segments) > 1:
        return
    alone, wrapped = Leaf(), Leaf()
    resource, request = find(alone, path)
    resource.render(request)
    root = AddedHeaders(mounted(wrapped), [(b"x-added", b"1")])
    resource, request = find(root, path)
    assert resource is wrapped
    resource.render(request)
    assert wrapped.seen == alone.seen
    assert request.responseHeaders.getRawHeaders(b"x-added") == [b"1"]


def test_treeRoot():
    """
    A root that is a tree of resources finds its children behind the
    mounts and the added headers.
    """
    tree = Resource()
    tree.putChild(b"about", Data(b"about", "text/html"))
    tree.putChild(b"", Data(b"home", "text/html"))
    root = AddedHeaders(
        MountedResources(tree, {(b"static",): Body(b"s")}),
        [(b"x-frame-options", b"DENY")],
    )
    for path, body in [(b"/about", b"about"), (b"/", b"home"), (b"/static/x", b"s")]:
        resource, request = find(root, path)
        assert resource.render(request) == body
        assert request.responseHeaders.getRawHeaders(b"x-frame-options") == [b"DENY"]


def test_addedHeadersOnRender():
    """A request for the empty path renders the root, headers added."""
    leaf = Leaf()
    request = DummyRequest([])
    assert AddedHeaders(leaf, [(b"x-a", b"b")]).render(request) == b"leaf"
    assert request.responseHeaders.getRawHeaders(b"x-a") == [b"b"]


@pytest.mark.parametrize(
    ("prefix", "segments"),
    [("/static", (b"static",)), ("/assets/v2/", (b"assets", b"v2"))],
)
def test_prefixSegments(prefix, segments):
    assert prefixSegments(prefix) == segments


@pytest.mark.parametrize(
    ("prefix", "fragment"),
    [
        ("static", "absolute path"),
        ("/", "the application's"),
        ("/a/../b", ". or .."),
    ],
)
def test_badPrefix(prefix, fragment):
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.")):
        prefixSegments(prefix)
