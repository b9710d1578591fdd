"""Moved to L{txpush._twisted}; kept while the tests move."""

from txpush._twisted.channel import *  # noqa: F403
from txpush._twisted.compat import *  # noqa: F403
from txpush._twisted.connection import *  # noqa: F403
from txpush._twisted.fixes import *  # noqa: F403
from txpush._twisted.requests import *  # noqa: F403
