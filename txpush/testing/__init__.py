"""
Test support shared by tests/ and bench/, as C{twisted.internet.testing} is
Twisted's: a blocking HTTP/2 client, runners for C{twist txpush} and
nghttp, condition waits, a module loader, digest-cookie helpers, the
parser checks the fuzzer and the tests share, and the soak's load.

Nothing in txpush itself imports this package; each module imports only
what its job needs, so that importing one stays cheap.
"""
