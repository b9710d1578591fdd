"""
HTTP/2 conformance of C{twist txpush}: h2spec 2.6.0 over TLS (ALPN h2) and
h2c (prior knowledge), on the demo page (which pushes) and on an asset
(which does not), into C{bench/results/h2spec*.xml} and
C{bench/results/h2spec.md}.

    python bench/h2spec.py [--h2spec PATH]
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from txpush.testing.twist import TwistServer

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
H2SPEC = HERE.parent.parent / "shared" / "tools" / "h2spec" / "h2spec"

RUNS = [
    # (file stem, transport, path)
    ("h2spec-tls", "TLS (ALPN h2)", "/"),
    ("h2spec-h2c", "h2c (prior knowledge)", "/"),
    ("h2spec-tls-asset", "TLS (ALPN h2)", "/style.css"),
    ("h2spec-h2c-asset", "h2c (prior knowledge)", "/style.css"),
]

WHY = {
    "http2/6.9.2": "the page pushes, and a pushed stream's DATA goes out "
    "while the page's window is closed, where h2spec expects the page's "
    "DATA first: HTTP/2 lets a pushed stream use the connection while the "
    "stream it depends on cannot send",
}


def failures(report: Path) -> tuple[int, int, list[str]]:
    """
    @param report: An h2spec JUnit report.
    @return: The cases run, those passed, and the names of those failed.
    """
    root = ElementTree.parse(report).getroot()
    run = passed = 0
    failed = []
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            run += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(f"{case.get('package')}: {case.get('classname')}")
            elif case.find("skipped") is None:
                passed += 1
    return run, passed, failed


def main() -> int:
    """Run h2spec four times; write the reports and the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--h2spec", type=Path, default=H2SPEC)
    arguments = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as state:
        server = TwistServer(
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--listen",
            "ssl:0:interface=127.0.0.1",
            stateDirectory=Path(state),
        )
        try:
            for stem, transport, path in RUNS:
                tls = transport.startswith("TLS")
                port = server.port("https" if tls else "http")
                report = RESULTS / f"{stem}.xml"
                command = [str(arguments.h2spec), "-h", "127.0.0.1", "-p", str(port)]
                command += ["-P", path, "-j", str(report)]
                command += ["-t", "-k"] if tls else []
                subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
                run, passed, failed = failures(report)
                rows.append((transport, path, run, passed, failed))
                print(f"{transport} {path}: {passed}/{run}", file=sys.stderr)
            problems = server.problems
        finally:
            server.stop()
    lines = [
        f"# h2spec 2.6.0 against `twist txpush` ({datetime.date.today()})",
        "",
        "`python bench/h2spec.py`: `../shared/tools/h2spec/h2spec` against",
        "`twist txpush --listen tcp:0 --listen ssl:0` (the demo site), on the",
        "demo page `/` (which pushes its stylesheet and script) and on",
        "`/style.css` (which pushes nothing). JUnit reports beside this file.",
        "",
        "| transport | path | passed | failed cases |",
        "|---|---|---|---|",
    ]
    for transport, path, run, passed, failed in rows:
        described = [
            f"{name} ({WHY[name.split(':')[0]]})" if name.split(":")[0] in WHY else name
            for name in failed
        ]
        cases = ", ".join(described) or "none"
        lines.append(f"| {transport} | `{path}` | {passed}/{run} | {cases} |")
    lines += [
        "",
        f"Problems in the server's log during the runs: {len(problems)}.",
    ]
    (RESULTS / "h2spec.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
