"""
C{twist txpush}'s command line parses into a frozen L{ServeSettings} and does
nothing else; L{makeService} builds the service from it.
"""

from __future__ import annotations

import attrs
import pytest

from txpush.tap import DEMO_MANIFEST, Options, ServeSettings, serviceFromSettings


def parse(*arguments: str) -> ServeSettings:
    options = Options()
    options.parseOptions(list(arguments))
    settings: ServeSettings = options["settings"]
    return settings


def test_parsingDoesNoWork(tmp_path):
    """
    Parsing reads no manifest, makes no certificate and listens nowhere: a
    missing manifest and a state directory that does not exist yet are only
    named in the settings.
    """
    state = tmp_path / "state"
    settings = parse(
        "--path",
        str(tmp_path),
        "--push-manifest",
        str(tmp_path / "absent.json"),
        "--state-dir",
        str(state),
        "--listen",
        "ssl:0",
        "--max-pushes",
        "3",
        "--no-digest",
    )
    assert not state.exists()
    assert settings == ServeSettings(
        site=tmp_path.resolve(),
        manifest=tmp_path / "absent.json",
        listen=("ssl:0",),
        stateDirectory=state,
        maxPushes=3,
        useDigest=False,
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.maxPushes = 4  # type: ignore[misc]


def test_defaultsServeTheDemo():
    """
    With no options: the demo site and its manifest, on ssl:8443.
    """
    settings = parse()
    assert (settings.site, settings.manifest, settings.listen) == (
        None,
        DEMO_MANIFEST,
        ("ssl:8443",),
    )
    config = settings.pushConfig(None)
    assert (config.push, config.useDigest, config.earlyHints) == (True, True, True)


def test_serviceFromSettings(tmp_path):
    """
    The service is built from the settings alone: it listens, and its site
    wraps the directory in the cache-aware resource with their
    configuration.
    """
    (tmp_path / "index.html").write_text("<html></html>")
    settings = ServeSettings(
        site=tmp_path, manifest=None, listen=("tcp:0:interface=127.0.0.1",)
    )
    service = serviceFromSettings(settings)
    (listening, *_) = list(service)
    try:
        ((description, port),) = listening.ports
        assert description == "tcp:0:interface=127.0.0.1"
        assert port.getHost().port > 0
        resource = listening.site.resource
        assert resource.config == settings.pushConfig(None)
    finally:
        for _, port in listening.ports:
            port.stopListening()
