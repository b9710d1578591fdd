"""
A real browser, which takes 103 Early Hints and not pushes: headless
Chromium loads a page from a CacheAwarePushResource over HTTPS and HTTP/2.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from tests.sites import MANIFEST, makeTimingSite
from txpush import CacheAwarePushResource, Manifest, PushConfig, PushSite

MAX_LOADS = 20
"""
Loads to try before giving up on seeing the hint used: Chromium used it in
about 2 loads of 5 here, so 20 loads all missing it would be a 1 in 25,000
chance if nothing were wrong.
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def spkiHash(certificatePath) -> str:
    """The certificate's public key pin, for --ignore-certificate-errors-spki-list."""
    certificate = x509.load_pem_x509_certificate(certificatePath.read_bytes())
    der = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def loadTimings(
    chromium: str, url: str, pin: str, report: bool = True
) -> dict[str, str]:
    """
    Load C{url} in a fresh headless Chromium (empty cache) and return the
    page's resources mapped to their Resource Timing initiator types (the
    page must report them, see L{tests.sites.TIMING_REPORT}; with C{report}
    false, just load it).
    """
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--ignore-certificate-errors-spki-list={pin}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert completed.returncode == 0, completed.stderr
    if not report:
        return {}
    match = re.search(r'<p id="timing">([^<]*)</p>', completed.stdout)
    assert match is not None, completed.stdout + completed.stderr
    return dict(item.split("=", 1) for item in match.group(1).split())


def test_chromiumUsesEarlyHints(serve, certificate, chromium, tmp_path):
    """
    Chromium takes the 103 for the stylesheet and script: their Resource
    Timing entries say "early-hints" in at least one of several loads
    (Chromium drops some hints on loopback, when the 103 and the 200 arrive
    together), and in every load they were fetched from a preload, never
    pushed.
    """
    directory = makeTimingSite(tmp_path / "site")
    resource = CacheAwarePushResource(
        File(str(directory)), PushConfig(manifest=Manifest.fromMapping(MANIFEST))
    )
    site = PushSite(resource)
    site.noisy = False
    server = serve(site, tls=True)
    url = f"https://localhost:{server.portNumber}/"
    pin = spkiHash(certificate[0])
    loads = []
    while len(loads) < MAX_LOADS:
        timings = loadTimings(chromium, url, pin)
        loads.append(timings)
        assert timings["/style.css"] in ("early-hints", "link"), loads
        assert timings["/app.js"] in ("early-hints", "link"), loads
        assert timings["/logo.png"] == "img", loads
        if timings["/style.css"] == "early-hints":
            break
    assert loads[-1]["/style.css"] == "early-hints", loads
    assert resource.counters.earlyHints == len(loads)
    assert resource.counters.pushed == 0


class ThinkingPage(Resource):
    """
    A page that thinks for 200 ms (a database query, a template) before it
    answers, and names its stylesheet and script only in the Link headers
    of its final response.
    """

    isLeaf = True
    THINK = 0.2

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request):
        gone = []
        request.notifyFinish().addErrback(gone.append)

        def answer():
            if gone:
                return
            request.setHeader(b"content-type", b"text/html")
            request.responseHeaders.addRawHeader(
                b"link", b"</style.css>; rel=preload; as=style"
            )
            request.responseHeaders.addRawHeader(
                b"link", b"</app.js>; rel=preload; as=script"
            )
            request.write(self.body)
            request.finish()

        reactor.callLater(self.THINK, answer)
        return NOT_DONE_YET


def test_chromiumUsesHintsLearnedFromLinkHeaders(
    serve, certificate, chromium, tmp_path
):
    """
    No manifest: the first load teaches txpush the page's Link headers;
    later loads get them as a 103 while the page thinks, and Chromium
    fetches the stylesheet and script from the hint ("early-hints") in at
    least one of several loads.
    """
    directory = makeTimingSite(tmp_path / "site")
    root = File(str(directory))
    root.putChild(b"page", ThinkingPage((directory / "index.html").read_bytes()))
    resource = CacheAwarePushResource(root, PushConfig())
    site = PushSite(resource)
    site.noisy = False
    server = serve(site, tls=True)
    url = f"https://localhost:{server.portNumber}/page"
    pin = spkiHash(certificate[0])
    first = loadTimings(chromium, url, pin)
    assert first["/style.css"] == "link" and resource.counters.earlyHints == 0
    loads = []
    while len(loads) < MAX_LOADS:
        timings = loadTimings(chromium, url, pin)
        loads.append(timings)
        assert timings["/style.css"] in ("early-hints", "link"), loads
        if timings["/style.css"] == "early-hints":
            break
    assert loads[-1]["/style.css"] == "early-hints", loads
    assert resource.counters.earlyHints == len(loads)
