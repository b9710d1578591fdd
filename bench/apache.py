"""
Apache httpd (Debian's apache2) for the benches that run it: whether it is
installed, and its configuration built from parts.

Every bench's Apache has the same frame (L{config}): its files in a run
directory of its own, errors logged at C{warn}, children as C{nobody},
C{mpm_event}, the modules it names, C{/etc/mime.types}; the bench writes
the rest (listeners, protocols, hosts).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

MODULES = Path("/usr/lib/apache2/modules")

_HEAD = """\
ServerRoot {run}
PidFile {run}/httpd.pid
Mutex file:{run}
DefaultRuntimeDir {run}
ErrorLog {run}/error.log
LogLevel warn
User nobody
Group nogroup
ServerName localhost
"""


def available() -> bool:
    """Whether Debian's apache2, with mod_http2, is installed."""
    return shutil.which("apache2") is not None and (MODULES / "mod_http2.so").exists()


def config(run: Path, modules: Iterable[str], body: str) -> Path:
    """
    Write C{httpd.conf} into C{run}, which is made, and opened to all (the
    children run as nobody).

    @param modules: The modules to load after C{mpm_event}, by name:
        C{"ssl"} loads C{mod_ssl.so} as C{ssl_module}.
    @param body: The directives after the frame's, each line ending in a
        newline.
    @return: The configuration's path, for C{apache2 -f}.
    """
    run.mkdir(parents=True, exist_ok=True)
    run.chmod(0o777)
    loads = "".join(
        f"LoadModule {name}_module {MODULES}/mod_{name}.so\n"
        for name in ("mpm_event", *modules)
    )
    path = run / "httpd.conf"
    path.write_text(
        _HEAD.format(run=run) + loads + "TypesConfig /etc/mime.types\n" + body
    )
    return path


def command(configuration: Path) -> list[str]:
    """The command line of Apache in the foreground with C{configuration}."""
    return ["apache2", "-f", str(configuration), "-DFOREGROUND"]
