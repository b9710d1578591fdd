"""
Learned push: find a page's assets by watching which assets clients fetch
for it, with bounded memory whatever the traffic.

A page load is one 2xx HTML response to a GET.  An asset request (a 2xx GET
of a stylesheet, script, font, image or JSON) is associated with a load of
the same connection when its C{Referer} is that page, or, without
C{Referer}, when it arrives within L{LearningConfig.window} seconds after the
connection's last page load.  The glue in L{txpush.resource} makes those
associations; this module keeps the counts and decides.

An asset is learned for a page once it was seen in at least
L{LearningConfig.minLoads} of the page's last L{LearningConfig.recentLoads}
informative loads.  A load is informative when learning did not influence
it: before anything is learned for the page, every load; after, one load in
L{LearningConfig.probeEvery}, a probe, for which the learned assets are
neither pushed nor hinted, so that what clients fetch by themselves is seen.
So an asset that a page stops using leaves its learned list after a few
probes, while one pushed on every other load is not mistaken for one the
clients still ask for.

Page keys are paths without their query (C{/index.html?utm=x} is
C{/index.html}); assets keep their query, as fetched (a versioned
C{/app.js?v=3} is its own asset).  Every structure is capped: pages (least
recently used first out), loads per page, assets per load.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, OrderedDict, deque
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from txpush.assets import Asset, pathProblem


@attrs.frozen
class LearningConfig:
    """
    How learned push learns.

    @ivar window: Seconds after a page load during which an asset request
        without C{Referer}, on the same connection, belongs to it.
    @ivar minLoads: Loads (of the recent informative ones) an asset must be
        seen in to be learned: one-off requests are not pushed.
    @ivar recentLoads: How many recent informative loads of a page count.
    @ivar probeEvery: Once a page has learned assets, one load in this many
        withholds them, to see what clients fetch by themselves.
    @ivar maxPages: Pages remembered; the least recently loaded is forgotten.
    @ivar maxAssetsPerLoad: Assets recorded for one load; more are ignored.
    @ivar maxLoadsPerConnection: Recent page loads a connection remembers for
        C{Referer} matching.
    """

    window: float = attrs.field(default=2.0)
    minLoads: int = attrs.field(default=2)
    recentLoads: int = attrs.field(default=4)
    probeEvery: int = attrs.field(default=8)
    maxPages: int = attrs.field(default=1000)
    maxAssetsPerLoad: int = attrs.field(default=32)
    maxLoadsPerConnection: int = attrs.field(default=8)

    def __attrs_post_init__(self) -> None:
        if not 0 < self.window <= 60:
            raise ValueError(f"window must be 0 to 60 seconds, not {self.window}")
        if not 1 <= self.minLoads <= self.recentLoads <= 100:
            raise ValueError(
                "need 1 <= minLoads <= recentLoads <= 100, not "
                f"{self.minLoads} and {self.recentLoads}"
            )
        if self.probeEvery < 2:
            raise ValueError(f"probeEvery must be at least 2, not {self.probeEvery}")
        for name in ("maxPages", "maxAssetsPerLoad", "maxLoadsPerConnection"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be at least 1, not {getattr(self, name)}"
                )


class LearnFileError(ValueError):
    """
    A learned-push file cannot be read; the message names the file and what
    to do.
    """


@attrs.define(eq=False)
class PageLoad:
    """
    One load of a page, collecting the assets seen with it.

    @ivar page: The page key.
    @ivar informative: Whether what is seen counts (see the module).
    @ivar assets: The assets seen, in order, with their C{as} types.
    """

    page: bytes
    informative: bool
    assets: dict[bytes, Asset] = attrs.field(factory=dict)


@attrs.define
class _Page:
    # The recent informative loads, oldest first.
    loads: deque[PageLoad]
    loadCount: int = 0
    learned: tuple[Asset, ...] = ()


class AssetLearner:
    """
    The learned assets of every page, and the counts they come from.

    @ivar config: How it learns.
    """

    def __init__(self, config: LearningConfig | None = None) -> None:
        """
        @param config: How to learn; the defaults when L{None}.
        """
        self.config = LearningConfig() if config is None else config
        self._pages: OrderedDict[bytes, _Page] = OrderedDict()

    def __len__(self) -> int:
        """
        @return: How many pages are remembered.
        """
        return len(self._pages)

    def assetsFor(self, page: bytes) -> tuple[tuple[Asset, ...], bool]:
        """
        What to push or hint for the next load of C{page}.

        @param page: The page key (a path without query).
        @return: The learned assets, and whether the next load is a probe
            (then the assets are empty: withheld on purpose).
        """
        state = self._pages.get(page)
        if state is None or not state.learned:
            return (), False
        if (state.loadCount + 1) % self.config.probeEvery == 0:
            return (), True
        return state.learned, False

    def recordLoad(self, page: bytes, probe: bool) -> PageLoad:
        """
        Record a load of C{page}.

        @param page: The page key.
        @param probe: Whether L{assetsFor} called this load a probe.
        @return: The load, to which L{observe} adds assets.
        """
        state = self._pages.pop(page, None)
        if state is None:
            state = _Page(loads=deque(maxlen=self.config.recentLoads))
        self._pages[page] = state
        while len(self._pages) > self.config.maxPages:
            self._pages.popitem(last=False)
        state.loadCount += 1
        load = PageLoad(page, informative=probe or not state.learned)
        if load.informative:
            state.loads.append(load)
        return load

    def observe(self, load: PageLoad, seen: Asset) -> None:
        """
        Record that C{seen} was fetched with C{load}.

        @param load: From L{recordLoad}.
        @param seen: The asset.
        """
        if not load.informative or seen.path in load.assets:
            return
        if len(load.assets) >= self.config.maxAssetsPerLoad:
            return
        load.assets[seen.path] = seen
        state = self._pages.get(load.page)
        if state is not None and load in state.loads:
            self._relearn(state)

    def _relearn(self, state: _Page) -> None:
        counts: Counter[bytes] = Counter()
        first: dict[bytes, Asset] = {}
        for load in state.loads:
            counts.update(load.assets.keys())
            for path, seen in load.assets.items():
                first.setdefault(path, seen)
        # Most often seen first; ties in the order first seen.
        order = {path: i for i, path in enumerate(first)}
        learned = sorted(
            (path for path, n in counts.items() if n >= self.config.minLoads),
            key=lambda path: (-counts[path], order[path]),
        )
        state.learned = tuple(first[path] for path in learned)

    def learnedPages(self) -> dict[bytes, tuple[Asset, ...]]:
        """
        @return: Every page with learned assets, and its assets.
        """
        return {page: s.learned for page, s in self._pages.items() if s.learned}

    # Persistence.

    def save(self, path: Path) -> None:
        """
        Write what has been learned to C{path} atomically (a temporary file
        in the same directory, then a rename), so a crash never leaves half a
        file.

        @param path: The file.
        @raise OSError: It cannot be written.
        """
        document = {
            "version": 1,
            "pages": {
                page.decode("ascii"): {
                    "loadCount": state.loadCount,
                    "loads": [
                        [
                            [a.path.decode("ascii"), a.asType]
                            for a in load.assets.values()
                        ]
                        for load in state.loads
                    ],
                }
                for page, state in self._pages.items()
            },
        }
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(document, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise

    @classmethod
    def load(cls, path: Path, config: LearningConfig | None = None) -> AssetLearner:
        """
        Read what was learned before from C{path}.

        @param path: A file written by L{save}; a missing file is an empty
            learner (the first run).
        @param config: How to learn.
        @return: The learner.
        @raise LearnFileError: The file is unreadable or corrupt; the message
            says which and what to do.
        """
        learner = cls(config)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return learner
        except (OSError, UnicodeDecodeError) as e:
            raise LearnFileError(
                f"{path}: cannot be read ({e}): fix or remove it"
            ) from e
        try:
            learner._restore(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise LearnFileError(
                f"{path}: not a learned-push file ({e}): remove it, and learning "
                "starts anew"
            ) from e
        return learner

    def _restore(self, document: object) -> None:
        if not isinstance(document, dict) or document.get("version") != 1:
            raise ValueError("no version 1 document")
        pages = document["pages"]
        if not isinstance(pages, dict):
            raise ValueError("pages is not an object")
        for pageText, entry in list(pages.items())[-self.config.maxPages :]:
            page = _checkedPath(pageText)
            state = _Page(loads=deque(maxlen=self.config.recentLoads))
            state.loadCount = int(entry["loadCount"])
            for saved in entry["loads"]:
                load = PageLoad(page, informative=True)
                for pathText, asType in saved[: self.config.maxAssetsPerLoad]:
                    restored = Asset(_checkedPath(pathText), asType)
                    load.assets[restored.path] = restored
                state.loads.append(load)
            self._pages[page] = state
            self._relearn(state)


def _checkedPath(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a path")
    path = text.encode("ascii")
    problem = pathProblem(path)
    if problem is not None:
        raise ValueError(f"{text!r} {problem}")
    return path


def pageKey(path: bytes) -> bytes:
    """
    @param path: A request path, maybe with a query.
    @return: The page key: the path without its query.
    """
    return path.split(b"?", 1)[0]


def refererPage(
    referer: bytes | None, scheme: bytes, authority: bytes | None
) -> bytes | None:
    """
    The page an asset request's C{Referer} names, for associating it.

    @param referer: The request's C{Referer}, if any.
    @param scheme: The scheme the client used for the asset.
    @param authority: The authority it used, if known.
    @return: The page key of a same-origin C{Referer}; C{b""} when there is
        no C{Referer}; L{None} for another origin or a malformed one (which
        says the asset is not this connection's page's).
    """
    if referer is None:
        return b""
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if (parts.scheme.lower(), parts.netloc.lower()) != (
        scheme.lower(),
        (authority or b"").lower(),
    ):
        return None
    return pageKey(parts.path or b"/")


class ConnectionLoads:
    """
    The recent page loads of one client connection, for associating the
    assets it fetches next.

    @ivar size: The most pages remembered.
    """

    def __init__(self, size: int) -> None:
        """
        @param size: The most pages to remember
            (L{LearningConfig.maxLoadsPerConnection}).
        """
        self.size = size
        self._byPage: OrderedDict[bytes, PageLoad] = OrderedDict()
        self._last: tuple[PageLoad, float] | None = None

    def add(self, load: PageLoad, now: float) -> None:
        """
        Remember a page load, forgetting the oldest page beyond L{size}.

        @param load: From L{AssetLearner.recordLoad}.
        @param now: When it was served, in seconds.
        """
        self._byPage.pop(load.page, None)
        self._byPage[load.page] = load
        while len(self._byPage) > self.size:
            self._byPage.popitem(last=False)
        self._last = (load, now)

    def forReferer(
        self, page: bytes | None, now: float, window: float
    ) -> PageLoad | None:
        """
        The load an asset request belongs to.

        @param page: From L{refererPage}.
        @param now: When the asset request came, in seconds.
        @param window: L{LearningConfig.window}.
        @return: The load of the page its C{Referer} names; without one, the
            last load if it is at most C{window} seconds old; else L{None}.
        """
        if page is None:
            return None
        if page:
            return self._byPage.get(page)
        if self._last is not None and now - self._last[1] <= window:
            return self._last[0]
        return None
