"""
L{HintingConnectionPool}: an C{HTTPConnectionPool} whose connections report
the informational (1xx) responses of a backend, such as C{103 Early Hints},
which Twisted's HTTP client otherwise reads and drops.

It hooks the private C{HTTP11ClientProtocol._parser} of each request, and
the pool's private C{_factory}, C{_HTTP11ClientFactory} and its
C{_quiescentCallback}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger
from twisted.web import client
from twisted.web._newclient import HTTP11ClientProtocol
from twisted.web.http_headers import Headers

InformationalCallback = Callable[[int, Headers], None]
"""Called with an informational response's status and headers."""

_log = Logger()


class InformationalHeaders(Headers):
    """
    The headers of a request whose backend's informational responses are
    wanted: L{onInformational} is called with each, as it arrives.

    @ivar onInformational: The callback, or L{None}.
    """

    onInformational: InformationalCallback | None = None

    def copy(self) -> InformationalHeaders:
        """
        @return: A copy, with the same callback (the Agent copies a
            request's headers to add C{Host}).
        """
        copied = InformationalHeaders(dict(self.getAllRawHeaders()))
        copied.onInformational = self.onInformational
        return copied


class _InformationalProtocol(HTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        sent = super().request(request)
        callback = getattr(request.headers, "onInformational", None)
        parser = self._parser
        if callback is None or parser is None or parser.request is not request:
            return sent
        allHeadersReceived = parser.allHeadersReceived

        def reportInformational() -> None:
            # The parser drops a 1xx response here, its headers just read.
            response = getattr(parser, "response", None)
            if response is not None and 100 <= response.code < 200:
                try:
                    callback(response.code, response.headers)
                except Exception:
                    _log.failure("Relaying an informational response failed")
            allHeadersReceived()

        parser.allHeadersReceived = reportInformational
        return sent


class _InformationalFactory(client._HTTP11ClientFactory):
    # One factory a backend connection: its start and stop are no news.
    noisy = False

    def buildProtocol(self, addr: Any) -> _InformationalProtocol:
        return _InformationalProtocol(self._quiescentCallback)


class HintingConnectionPool(client.HTTPConnectionPool):
    """
    A persistent connection pool whose requests with
    L{InformationalHeaders} report the backend's informational responses.
    """

    _factory = _InformationalFactory
