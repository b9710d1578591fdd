"""
The C{twist txpush} command: serve a directory over HTTPS and HTTP/2 with
cache-aware push and Early Hints.
"""

from twisted.application.service import ServiceMaker

txpush = ServiceMaker(
    "txpush",
    "txpush.tap",
    (
        "Serve a directory over HTTPS and HTTP/2 with cache-aware server push "
        "and 103 Early Hints."
    ),
    "txpush",
)
