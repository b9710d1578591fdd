"""
Every touch of Twisted's private names, in one package.

Twisted Web speaks HTTP/2 through C{twisted.web._http2.H2Connection}, which
has no server push and only starts after TLS ALPN picks C{h2}.  This package
extends it, a module per job:

  - L{txpush._twisted.compat}: the check that the private names used here
    are present in the installed Twisted;
  - L{txpush._twisted.backports}: what the newest Twisted of the tested
    range has and older ones lack;
  - L{txpush._twisted.fixes}: fixes for Twisted's HTTP/2 flow control and
    producers;
  - L{txpush._twisted.hardening}: defences against one client's attacks
    (frame budgets, a cap on buffered bytes, a real close, timeouts);
  - L{txpush._twisted.connection}: the connection that pushes, and its
    graceful shutdown;
  - L{txpush._twisted.channel}: the switch to HTTP/2 after ALPN or on the
    prior-knowledge preface;
  - L{txpush._twisted.requests}: what the rest of txpush needs to know of a
    request (its stream, its connection's state, its origin), and Early
    Hints;
  - L{txpush._twisted.informational}: an HTTP client connection pool that
    reports a backend's C{103 Early Hints}, for the reverse proxy.

Nothing outside this package uses a private Twisted name.
"""
