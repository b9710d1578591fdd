"""
The tests' blocking HTTP/2 client (tests/h2client.py), for the bench's
scripts, which run from bench/ as separate processes.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.h2client import H2Client, Stream

__all__ = ["H2Client", "Stream"]
