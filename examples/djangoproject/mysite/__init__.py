"""
A minimal Django project for C{twist txpush}: one page whose view names its
static files in a C{Link: rel=preload} header.
"""
