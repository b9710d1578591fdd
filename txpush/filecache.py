"""
L{SmallFileCache}: the bytes of small files, kept in memory for as long as
the file is unchanged.

A static file served from memory costs one C{stat} per request instead of an
open, two reads, a close and a producer; a file changed on disk is seen at
the next request, as the C{stat} tells.
"""

from __future__ import annotations

import os
import stat
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs

DEFAULT_MAX_FILE_BYTES = 64 * 1024
"""
The largest file kept in memory by default: a larger one streams from disk
(it takes more than one HTTP/2 flow-control window anyway).
"""

DEFAULT_MAX_TOTAL_BYTES = 32 * 1024 * 1024
"""The default cap on the bytes kept in memory, for all files together."""

SETTLING_SECONDS = 2.0
"""
How long after its last change a file is read from disk each time before it
is kept: file systems stamp times coarsely (to a few milliseconds, FAT to two
seconds), so two writes of the same size in one tick can leave the same
C{stat}, and only a file whose last change is older than a tick can be told
apart by it from every later version.
"""


def fileVersion(status: os.stat_result) -> tuple[int, ...]:
    """
    What tells one version of a file from another, by its C{stat}.

    @param status: The file's C{os.stat} result.
    @return: Its device, inode, size, and modification and change times: a
        write changes the modification time, and a C{chmod}, a rename over
        it, or a write that restores the time changes the change time.
    """
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


@attrs.frozen
class CachedFile:
    """
    One version of a small file, in memory.

    @ivar version: Its L{fileVersion}.
    @ivar body: Its bytes.
    """

    version: tuple[int, ...]
    body: bytes


class SmallFileCache:
    """
    The bytes of small regular files, by path, each valid for the version of
    the file it was read from; the least recently used are dropped beyond
    L{maxTotalBytes}.

    @ivar maxFileBytes: The largest file kept.
    @ivar maxTotalBytes: The most bytes kept, for all files together.
    """

    def __init__(
        self,
        maxFileBytes: int = DEFAULT_MAX_FILE_BYTES,
        maxTotalBytes: int = DEFAULT_MAX_TOTAL_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """
        @param maxFileBytes: See L{maxFileBytes}.
        @param maxTotalBytes: See L{maxTotalBytes}.
        @param clock: The time now, in seconds since the epoch, as file
            times are.
        """
        self.maxFileBytes = maxFileBytes
        self.maxTotalBytes = maxTotalBytes
        self._clock = clock
        self._files: OrderedDict[str, CachedFile] = OrderedDict()
        self._totalBytes = 0

    @property
    def totalBytes(self) -> int:
        """
        How many bytes are kept now.
        """
        return self._totalBytes

    def bodyOf(self, path: str, status: os.stat_result) -> bytes | None:
        """
        The bytes of the file at C{path}, whose C{stat} is C{status}.

        @param path: The file's path.
        @param status: Its C{os.stat}, just taken.
        @return: Its bytes, from memory when this version was read before,
            else read now (and kept, once it has not changed for
            L{SETTLING_SECONDS}); L{None} when it is not kept in memory (not a
            regular file, too large, unreadable, or changed while being
            read): then it is served from disk.
        """
        if not stat.S_ISREG(status.st_mode) or status.st_size > self.maxFileBytes:
            return None
        version = fileVersion(status)
        cached = self._files.get(path)
        if cached is not None:
            if cached.version == version:
                self._files.move_to_end(path)
                return cached.body
            self._forget(path)
        body = self._read(path, version)
        settled = status.st_ctime_ns < (self._clock() - SETTLING_SECONDS) * 1e9
        if body is not None and settled:
            self._keep(path, CachedFile(version, body))
        return body

    def _read(self, path: str, version: tuple[int, ...]) -> bytes | None:
        try:
            with open(path, "rb") as f:
                body = f.read(self.maxFileBytes + 1)
                after = fileVersion(os.fstat(f.fileno()))
        except OSError:
            return None
        # Written to while it was read: this version is not the one read.
        if after != version or len(body) != version[2]:
            return None
        return body

    def _keep(self, path: str, cached: CachedFile) -> None:
        size = len(cached.body)
        if size > self.maxTotalBytes:
            return
        self._files[path] = cached
        self._totalBytes += size
        while self._totalBytes > self.maxTotalBytes:
            _, dropped = self._files.popitem(last=False)
            self._totalBytes -= len(dropped.body)

    def _forget(self, path: str) -> None:
        dropped = self._files.pop(path)
        self._totalBytes -= len(dropped.body)
