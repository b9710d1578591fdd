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


@pytest.mark.parametrize(
    ("description", "problem"),
    [
        ("tcp:abc", "'abc' is not a port number"),
        ("tcp:-1", "'-1' is not a port number"),
        ("tcp:99999", "port 99999 is out of range"),
        ("ssl:65536:interface=127.0.0.1", "port 65536 is out of range"),
        ("tcp:port=70000", "port 70000 is out of range"),
        ("haproxy:tcp:x", "'x' is not a port number"),
        ("tcp6:x", "'x' is not a port number"),
        ("ssl:", "names no port"),
        ("ssl:interface=127.0.0.1", "names no port"),
    ],
)
def test_listenPort(description, problem, capsys):
    """
    A C{--listen} whose port is not a port number, or out of range, is one
    line naming the value, what is wrong and what to write, exit status 64.
    """
    with pytest.raises(SystemExit) as info:
        parse("--listen", description)
    assert info.value.code == 64
    error = capsys.readouterr().err
    example = "ssl:8443" if description.startswith("ssl") else "tcp:8080"
    if description.startswith("tcp6"):
        example = "tcp6:8080"
    assert error == (
        f"twist txpush: --listen {description}: {problem}: give a port from 1 to "
        f"65535 (0 for any free one), such as {example} (see twist txpush --help)\n"
    )


@pytest.mark.parametrize(
    "description",
    [
        "tcp:0",
        "tcp:65535:interface=127.0.0.1",
        "ssl:8443:privateKey=a\\:b.pem:certKey=c.pem",
        "haproxy:tcp:8080",
        "unix:/tmp/txpush.sock",
    ],
)
def test_listenPortAccepted(description):
    """
    Ports from 0 to 65535, and endpoints without a port, pass to Twisted.
    """
    assert parse("--listen", description).listen == (description,)


def test_failedAssetRetry():
    """
    --failed-asset-retry sets how long a failing asset is left out of its
    page, 300 seconds by default.
    """
    assert parse().pushConfig(None).failedAssetRetry == 300
    settings = parse("--failed-asset-retry", "0")
    assert settings.pushConfig(None).failedAssetRetry == 0


def test_linkHintsAndPreconnect():
    """
    Hints from a page's earlier Link headers and preconnects are on by
    default; --no-link-hints and --no-preconnect turn them off.
    """
    config = parse().pushConfig(None)
    assert config.linkHints is not None and config.preconnect
    config = parse("--no-link-hints", "--no-preconnect").pushConfig(None)
    assert config.linkHints is None and not config.preconnect
