"""
txpush: HTTP/2 server push for Twisted Web.
"""
