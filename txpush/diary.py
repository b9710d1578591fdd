"""
L{PushDiary}: what one connection has pushed, so an asset is pushed at most
once per connection.
"""

from collections import OrderedDict

DEFAULT_DIARY_SIZE = 256
"""
How many paths a diary remembers: Apache's C{H2PushDiarySize} default.  A
page rarely has more than a few dozen assets, so a connection that outgrows
this has long since cached the oldest ones.
"""


class PushDiary:
    """
    A bounded set of the paths pushed on one connection, forgetting the
    least recently pushed first.

    @ivar size: The most paths the diary remembers.
    """

    def __init__(self, size: int = DEFAULT_DIARY_SIZE) -> None:
        """
        @param size: The most paths to remember; at least 1.
        @raise ValueError: C{size} is below 1.
        """
        if size < 1:
            raise ValueError(f"a push diary holds at least 1 path, not {size}")
        self.size = size
        self._paths: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, path: object) -> bool:
        """
        @param path: A pushed path, with its query.
        @return: Whether it was pushed on this connection (and not forgotten).
        """
        return path in self._paths

    def __len__(self) -> int:
        """
        @return: How many paths the diary remembers.
        """
        return len(self._paths)

    def add(self, path: bytes) -> None:
        """
        Remember that C{path} was pushed, forgetting the least recently
        pushed path if the diary is full.

        @param path: The pushed path, with its query.
        """
        self._paths[path] = None
        self._paths.move_to_end(path)
        if len(self._paths) > self.size:
            self._paths.popitem(last=False)
