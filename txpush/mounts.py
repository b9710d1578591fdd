"""
Resources that wrap a root: directories served beside it at path prefixes
(a WSGI application's static files), and headers added to every response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twisted.web.resource import IResource, Resource, getChildForRequest


def prefixSegments(prefix: str) -> tuple[bytes, ...]:
    """
    @param prefix: A path prefix such as C{/static} or C{/assets/v2/}.
    @return: Its segments, C{(b"static",)} or C{(b"assets", b"v2")}.
    @raise ValueError: It is not an absolute path of at least one segment,
        or has C{.} or C{..} segments.
    """
    if not prefix.startswith("/"):
        raise ValueError(f"{prefix!r} is not an absolute path: start it with /")
    segments = tuple(s for s in prefix.split("/") if s)
    if not segments:
        raise ValueError("/ is the application's: give a prefix such as /static")
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"{prefix!r} has a . or .. segment: give a plain path")
    return tuple(s.encode("utf-8") for s in segments)


def resourceBelow(root: IResource, name: bytes, request: Any) -> IResource:
    """
    Find a wrapped root's resource for a request whose first segment its
    wrapper already took.

    @param root: The wrapped resource, which may be a leaf.
    @param name: The segment the wrapper took from C{request.postpath}.
    @param request: The request.
    @return: The resource the root finds for the whole path, as if it were
        served alone.
    """
    request.prepath.pop()
    request.postpath.insert(0, name)
    found: IResource = getChildForRequest(root, request)
    return found


class MountedResources(Resource):
    """
    Serves resources at path prefixes, and everything else from a root,
    which may be a leaf (such as a C{WSGIResource}): the root then gets the
    whole path, as if it were served alone.

    @ivar root: The resource for every path under no prefix.
    @ivar mounts: Each prefix's segments, longest first, with its resource.
    """

    def __init__(
        self, root: IResource, mounts: Mapping[tuple[bytes, ...], IResource]
    ) -> None:
        """
        @param root: The resource for every path under no prefix.
        @param mounts: Resources by prefix segments (see L{prefixSegments}).
        """
        super().__init__()
        self.root = root
        self.mounts: Sequence[tuple[tuple[bytes, ...], IResource]] = sorted(
            mounts.items(), key=lambda item: -len(item[0])
        )

    def getChildWithDefault(self, name: bytes, request: Any) -> IResource:
        """
        @param name: The first segment of the path, already taken from
            C{request.postpath}.
        @param request: The request.
        @return: The mounted resource whose prefix the path starts with
            (the rest of the prefix taken from the path), else the root's
            resource for the path.
        """
        path = [name, *request.postpath]
        for segments, resource in self.mounts:
            # A prefix matches whole segments, and not the bare prefix
            # without a slash: /static names no file of the directory.
            if tuple(path[: len(segments)]) == segments and len(path) > len(segments):
                rest = len(segments) - 1
                request.prepath.extend(request.postpath[:rest])
                del request.postpath[:rest]
                return resource
        return resourceBelow(self.root, name, request)

    def render(self, request: Any) -> Any:
        """
        @param request: A request for the empty path.
        @return: What the root renders.
        """
        return self.root.render(request)


class AddedHeaders(Resource):
    """
    Adds headers to every response of a root, as C{twist web --add-header}
    does, before the root's resource sets its own.

    @ivar root: The wrapped resource.
    @ivar headers: The names and values added.
    """

    def __init__(self, root: IResource, headers: Sequence[tuple[bytes, bytes]]):
        """
        @param root: The wrapped resource.
        @param headers: The names and values to add.
        """
        super().__init__()
        self.root = root
        self.headers = tuple(headers)

    def _add(self, request: Any) -> None:
        for name, value in self.headers:
            request.responseHeaders.addRawHeader(name, value)

    def getChildWithDefault(self, name: bytes, request: Any) -> IResource:
        """
        @param name: The first segment of the path.
        @param request: The request.
        @return: The root's resource for the path, the headers added.
        """
        self._add(request)
        return resourceBelow(self.root, name, request)

    def render(self, request: Any) -> Any:
        """
        @param request: A request for the empty path.
        @return: What the root renders, the headers added.
        """
        self._add(request)
        return self.root.render(request)
