"""
The examples run and do what their docstrings say.
"""

from tests.conftest import loadExample
from txpush.testing.h2client import H2Client


def test_cacheAwareSubclass(serve):
    """
    The blog example pushes the site's assets and the article's
    illustration; a repeat visit with the cookie pushes nothing; a browser
    gets them as Early Hints.
    """
    site = loadExample("cacheaware").buildSite()
    site.noisy = False
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/articles/push")
        assert [p.path for p in client.pushes()] == [
            b"/static/site.css",
            b"/static/site.js",
            b"/static/push.svg",
        ]
        assert all(p.status == 200 for p in client.pushes())
        cookie = next(v for k, v in page.headers if k == b"set-cookie").split(b";")[0]
    with H2Client(server.portNumber) as client:
        client.get(b"/articles/push", headers=[(b"cookie", cookie)])
        assert client.pushes() == []
    with H2Client(server.portNumber, enablePush=False) as client:
        page = client.get(b"/")
    (hints,) = page.informational
    assert [v for k, v in hints if k == b"link"] == [
        b"</static/site.css>; rel=preload; as=style",
        b"</static/site.js>; rel=preload; as=script",
    ]
