"""
Turn a run's raw results into results.md, summary.md and the plots.

Run: python bench/report.py [RESULTS_DIR]   # again, from its raw.json

results.md ends with the hand-written analysis kept in RESULTS_DIR/notes.md,
if there is one (where the time goes, what looks wrong): numbers are
regenerated, judgement is not.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # Files only, no display.
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload

REPO = Path(__file__).resolve().parent.parent
DIGEST = REPO / "bench" / "results" / "digest.md"
README = REPO / "bench" / "README.md"
PROFILE = REPO / "bench" / "results" / "profile.md"
NO_PUSH = "twist-web"
PLAIN = "txpush-push"
CACHE = "txpush-cache"
SAVING_GOAL = 0.8  # RTTs push should save over no push
CACHE_GOAL = 1.05  # cache-aware push's time at most this times plain push's
COST_GOAL = 0.95  # txpush's requests per second over twist web's
COLOURS = {
    "twist-web": "#9e9e9e",
    "txpush-push": "#1f77b4",
    "txpush-cache": "#0b3d91",
    "txpush-hints": "#7fb3e0",
    "nghttpd": "#e07b39",
    "h2o": "#3a9e5c",
}
TYPE_NAMES = {"css": "stylesheets", "js": "scripts", "font": "fonts", "image": "images"}
TYPE_COLOURS = {
    "css": "#6a3d9a",
    "js": "#e6ab02",
    "font": "#1b9e77",
    "image": "#d95f02",
}


def median(values: list[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    """Seconds as milliseconds, to 0.1 ms."""
    return f"{seconds * 1e3:.1f}"


def spreadText(values: list[float], show: Callable[[float], str]) -> str:
    """The median, then the min and max in brackets."""
    if not values:
        return "failed"
    return f"{show(median(values))} ({show(min(values))}-{show(max(values))})"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, the first column left-aligned, the others right."""
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|:---|" + "|".join("---:" for _ in header[1:]) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )


def relative(target: Path, out: Path) -> str:
    """A link to C{target} from a file in C{out}."""
    return Path(os.path.relpath(target, out.resolve())).as_posix()


def pairedRatios(
    a: list[dict[str, float]], b: list[dict[str, float]], key: str
) -> list[float]:
    """Round-by-round ratios a/b of one figure (the rounds alternate)."""
    return [x[key] / y[key] for x, y in zip(a, b, strict=False)]


class Results:
    """The raw results of a run, and the figures derived from them."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.labels: dict[str, str] = raw["servers"]
        self.rtts: list[int] = raw["rtts"]
        self.timed = [rtt for rtt in self.rtts if rtt]
        sizes = raw["site"]["sizes"]
        assets: list[str] = raw["site"]["assets"]
        self.assetBytes = sum(sizes[path] for path in assets)
        self.typeOf: dict[str, str] = raw["site"].get("types") or {
            path: workload.typeOf(path) for path in assets
        }
        self.types = [t for t in workload.TYPES if t in self.typeOf.values()]
        self.typeCounts = {
            t: sum(1 for path in assets if self.typeOf[path] == t) for t in self.types
        }
        self.typeBytes = {
            t: sum(sizes[path] for path in assets if self.typeOf[path] == t)
            for t in self.types
        }

    def byType(self, byPath: dict[str, int]) -> dict[str, int]:
        """Bytes by asset type (paths not of the site under "other")."""
        out = dict.fromkeys(self.types, 0)
        for path, count in byPath.items():
            kind = self.typeOf.get(path, "other")
            out[kind] = out.get(kind, 0) + count
        return out

    def wastedByType(self, server: str) -> dict[str, float]:
        """Median bytes pushed on repeat visits, by asset type."""
        cell = self.raw["repeatVisit"].get(server, {})
        loads = [self.byType(byPath) for byPath in cell.get("wastedByPath", [])]
        kinds = {kind for load in loads for kind in load} or set(self.types)
        return {
            kind: median([load.get(kind, 0) for load in loads])
            for kind in [*self.types, *sorted(kinds - set(self.types))]
        }

    def firstPushedByType(self, server: str) -> dict[str, int]:
        """Bytes pushed by type on the repeat-visit cell's first visit."""
        cell = self.raw["repeatVisit"].get(server, {})
        return self.byType(cell.get("firstVisitPushedByPath", {}))

    def siteText(self) -> str:
        """The assets in words: "2 stylesheets, 3 scripts, ..."."""
        return ", ".join(
            f"{self.typeCounts[t]} {TYPE_NAMES[t]}"
            if self.typeCounts[t] != 1
            else f"1 {TYPE_NAMES[t].removesuffix('s')}"
            for t in self.types
        )

    def times(self, server: str, rtt: int) -> list[float]:
        """Page-complete times of first visits, in seconds."""
        cell = self.raw["firstVisit"].get(server, {}).get(str(rtt), {})
        times: list[float] = cell.get("times", [])
        return times

    def saved(self, server: str, rtt: int) -> float:
        """Median time saved over stock twist web, in seconds."""
        return median(self.times(NO_PUSH, rtt)) - median(self.times(server, rtt))

    def saving(self, server: str, rtt: int) -> float:
        """Median time saved over stock twist web, in RTTs."""
        return self.saved(server, rtt) / (rtt / 1e3)

    def cacheOverPlain(self, rtt: int) -> float:
        """Cache-aware push's median time over plain push's."""
        return median(self.times(CACHE, rtt)) / median(self.times(PLAIN, rtt))

    def wasted(self, server: str) -> list[int]:
        """Bytes pushed on repeat visits."""
        cell = self.raw["repeatVisit"].get(server, {})
        wasted: list[int] = cell.get("wastedBytes", [])
        return wasted

    def costRatios(self) -> list[float]:
        """txpush's requests per second over twist web's, per round."""
        cost = self.raw["serverCost"]
        return pairedRatios(cost[CACHE], cost[NO_PUSH], "rps")

    def pushRatios(self, key: str) -> list[float]:
        """Push over fetch, per round, of one figure."""
        cost = self.raw["pushCost"]
        return pairedRatios(cost["push"], cost["fetch"], key)


def goals(r: Results) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal."""
    at = " and ".join(f"{rtt} ms" for rtt in r.timed)
    out = []
    for server in (PLAIN, CACHE):
        savings = [r.saving(server, rtt) for rtt in r.timed]
        out.append(
            (
                f"{r.labels[server]} saves >= {SAVING_GOAL} RTT over no push at {at}",
                ", ".join(f"{s:.2f} RTT" for s in savings),
                all(s >= SAVING_GOAL for s in savings),
            )
        )
    over = [r.cacheOverPlain(rtt) for rtt in r.timed]
    out.append(
        (
            f"cache-aware push within 5% of plain push at {at} (medians)",
            ", ".join(f"{(o - 1) * 100:+.1f}%" for o in over),
            all(o <= CACHE_GOAL for o in over),
        )
    )
    wasted = median(r.wasted(CACHE))
    kinds = r.wastedByType(CACHE)
    which = ", ".join(f"{TYPE_NAMES.get(k, k)} {v:,.0f}" for k, v in kinds.items() if v)
    out.append(
        (
            "repeat visit: txpush cache-aware pushes 0 bytes",
            f"{wasted:,.0f} bytes{f' ({which})' if which else ''};"
            f" plain push {median(r.wasted(PLAIN)):,.0f}",
            wasted == 0,
        )
    )
    ratio = median(r.costRatios())
    out.append(
        (
            f"h2load: txpush >= {COST_GOAL} x twist web requests/s",
            f"{ratio:.3f}",
            ratio >= COST_GOAL,
        )
    )
    pages = median(r.pushRatios("pagesPerSecond"))
    cpu = median(r.pushRatios("cpuMsPerPage"))
    out.append(
        (
            "a pushed asset costs the server no more than a requested one",
            f"server CPU per page push/fetch {cpu:.3f}; pages/s {pages:.3f}",
            cpu <= 1.0,
        )
    )
    return out


def headerSection(r: Results, out: Path) -> list[str]:
    raw = r.raw
    m = raw["machine"]
    quick = raw["plan"]["name"] == "quick"
    versions = ", ".join(f"{name} {v}" for name, v in raw["versions"].items())
    return [
        "# txpush benchmark results",
        "",
        f"A {raw['plan']['name']} run of `python bench/run.py"
        f"{' --quick' if quick else ''}` at {raw['when']} ({raw['seconds']:.0f} s)"
        f" on a machine with **{m['cores']} cores** ({m['cpu']}, Linux"
        f" {m['kernel']}, load average {m['load'][0]:.2f} before the run); other"
        " work may have shared the machine.",
        f"txpush at {raw.get('txpush', 'an unrecorded revision')}."
        f" Versions: {versions}.",
        "",
        tlsText(raw.get("tls", {})),
        "",
        f"The site: a {raw['site']['sizes']['/index.html']:,}-byte page linking"
        f" {len(raw['site']['assets'])} assets ({r.siteText()}) of"
        f" {r.assetBytes:,} bytes in all, shaped like HTTP Archive's median"
        " page (bytes per type; see the README).  Every server serves it over"
        " TLS and HTTP/2 (ALPN) with the same certificate (ECDSA P-256).  See"
        f" [bench/README.md]({relative(README, out)}) for what each cell means.",
        "",
        siteTable(r),
        "",
    ]


def siteTable(r: Results) -> str:
    """The site's assets by type."""
    rows = [
        [
            TYPE_NAMES[t],
            str(r.typeCounts[t]),
            f"{r.typeBytes[t]:,}",
            ", ".join(
                f"`{path}`" for path in r.raw["site"]["assets"] if r.typeOf[path] == t
            ),
        ]
        for t in r.types
    ]
    rows.append(["all", str(sum(r.typeCounts.values())), f"{r.assetBytes:,}", ""])
    return table(["type", "assets", "bytes", "paths"], rows)


def tlsText(tls: dict[str, str]) -> str:
    """What TLS the servers negotiated, in one sentence."""
    if len(set(tls.values())) == 1:
        return f"Every server negotiated {next(iter(tls.values()))}."
    return "TLS: " + "; ".join(f"{name} {value}" for name, value in tls.items()) + "."


def goalSection(r: Results) -> list[str]:
    rows = [
        [goal, measured, "**met**" if ok else "**missed**"]
        for goal, measured, ok in goals(r)
    ]
    return ["## Goals", "", table(["goal", "measured", "verdict"], rows), ""]


def firstVisitSection(r: Results) -> list[str]:
    rows = []
    for server, label in r.labels.items():
        cells = r.raw["firstVisit"][server]
        errors = sum(len(cells[str(rtt)]["errors"]) for rtt in r.rtts)
        pushed = f"{median(cells[str(r.rtts[-1])]['pushed']):g}"
        cpu = [t for rtt in r.rtts for t in cells[str(rtt)].get("clientCPU", [])]
        rows.append(
            [
                label,
                *(spreadText(r.times(server, rtt), ms) for rtt in r.rtts),
                pushed + (f" ({errors} loads failed)" if errors else ""),
                f"{median(cpu) * 1e3:.0f}" if cpu else "-",
            ]
        )
    savingRows = [
        [
            label,
            *(
                f"{ms(r.saved(server, rtt))} ms = {r.saving(server, rtt):.2f} RTT"
                for rtt in r.timed
            ),
        ]
        for server, label in r.labels.items()
        if server != NO_PUSH
    ]
    return [
        "## 1. First visit: page-complete time",
        "",
        "Milliseconds from the end of the TLS handshake to the end of the last",
        "response (nghttp's largest responseEnd), through the delaying proxy;",
        f"median (min-max) of {r.raw['plan']['firstVisitRuns']} loads per cell.  No",
        "cookie.  Servers that do not push are loaded with `nghttp -ans`, which",
        "requests the assets the HTML links once it has parsed them; servers",
        "that push with `nghttp -ns`, a load counting only if the page and every",
        "asset arrived (pushed), because `-a` would parse every pushed body as",
        "HTML (see the client check below).  The last column is nghttp's own",
        "CPU time per load (user + system, median of every load of the row).",
        "",
        table(
            [
                "server",
                *(f"RTT {rtt} ms" for rtt in r.rtts),
                "assets pushed",
                "nghttp CPU, ms",
            ],
            rows,
        ),
        "",
        "Time saved over stock `twist web` (no push), medians:",
        "",
        table(["server", *(f"RTT {rtt} ms" for rtt in r.timed)], savingRows),
        "",
        *clientCheckSection(r),
    ]


def clientCheckSection(r: Results) -> list[str]:
    """nghttp with and without -a, directly."""
    check = r.raw.get("clientCheck")
    if not check:
        return []
    rows = []
    for server, modes in check.items():
        cells = []
        for mode in ("-a", "no -a"):
            got = modes.get(mode)
            cells += (
                [
                    spreadText(got["times"], ms),
                    f"{median(got['clientCPU']) * 1e3:.0f}",
                ]
                if got
                else ["-", "-"]
            )
        rows.append([r.labels.get(server, server), *cells])
    loads = len(next(iter(check.values()))["-a"]["times"])
    return [
        f"Client check: {loads} loads per cell directly (no proxy, RTT about 0),",
        "with `nghttp -ans` and, for the servers that push, with `nghttp -ns`:",
        "page complete in ms, median (min-max), and nghttp's CPU in ms.  The",
        "difference in nghttp's CPU is its HTML parser run over the pushed",
        "bodies (nghttp gives a pushed stream the level of a page).",
        "",
        table(
            [
                "server",
                "`-a`: page complete",
                "`-a`: nghttp CPU",
                "no `-a`: page complete",
                "no `-a`: nghttp CPU",
            ],
            rows,
        ),
        "",
    ]


def repeatVisitSection(r: Results) -> list[str]:
    rows = []
    for server, label in r.labels.items():
        cell = r.raw["repeatVisit"].get(server)
        if cell is None:
            continue
        rows.append(
            [
                label,
                "yes" if cell["cookie"] else "none set",
                f"{median(cell['wastedBytes']):,.0f}",
                f"{median(cell['promises']):g}",
                f"{median(cell['resets']):g}",
                spreadText(cell["times"], ms),
            ]
        )
    servers = [s for s in r.labels if s in r.raw["repeatVisit"]]
    heads = [TYPE_NAMES.get(t, t) for t in r.types]
    typeRows = [
        [
            r.labels[s],
            *(f"{r.wastedByType(s).get(t, 0):,.0f}" for t in r.types),
            f"{median(r.wasted(s)):,.0f}",
        ]
        for s in servers
    ]
    firstRows = [
        [
            r.labels[s],
            *(f"{r.firstPushedByType(s).get(t, 0):,}" for t in r.types),
            f"{r.raw['repeatVisit'][s]['firstVisitPushedBytes'] or 0:,}",
        ]
        for s in servers
    ]
    totals = [f"{r.typeBytes[t]:,}" for t in r.types]
    return [
        "## 2. Repeat visit: pushed bytes the client did not need",
        "",
        "The client sends back the cookies the server set on a first visit and",
        "fetches the page alone (`nghttp -ns -H 'cookie: ...'`, no `-a`) at RTT",
        f"{r.raw['repeatRtt']} ms, {r.raw['plan']['repeatVisitRuns']} loads: it has",
        "every asset cached, so every pushed byte is wasted.  The assets are",
        f"{r.assetBytes:,} bytes in all.  Bytes are the DATA payloads of pushed",
        "streams (`nghttp -v`); medians, and median (min-max) page time.",
        "",
        table(
            [
                "server",
                "cookie",
                "pushed bytes wasted",
                "PUSH_PROMISE",
                "RST_STREAM",
                "page complete, ms",
            ],
            rows,
        ),
        "",
        "Wasted pushed bytes by asset type (medians of the repeat loads; each",
        "pushed stream counted by the path its PUSH_PROMISE named):",
        "",
        table(["server", *heads, "all"], typeRows),
        f"| *the site* | {' | '.join(totals)} | {r.assetBytes:,} |",
        "",
        "What the first visit that set the cookies pushed, by type (one load,",
        "directly, `nghttp -ans -v`):",
        "",
        table(["server", *heads, "all"], firstRows),
        "",
        encodingText(r),
        "",
    ]


def encodingText(r: Results) -> str:
    """Whether any server compressed a response."""
    found = {
        s: cell.get("contentEncodings")
        for s, cell in r.raw["repeatVisit"].items()
        if cell.get("contentEncodings") is not None
    }
    if not found:
        return ""
    used = {s: e for s, e in found.items() if e}
    if not used:
        return (
            "No server compressed a response (no `Content-Encoding` on the first"
            " visit, although nghttp sends `accept-encoding: gzip, deflate`): the"
            " bytes above are the files' sizes."
        )
    return (
        "`Content-Encoding` on the first visit: "
        + "; ".join(f"{r.labels.get(s, s)} {', '.join(e)}" for s, e in used.items())
        + "."
    )


def costSection(r: Results, out: Path) -> list[str]:
    plan = r.raw["plan"]
    cost = r.raw["serverCost"]

    def row(label: str, rounds: list[dict[str, float]], rate: str, cpu: str) -> list:
        return [
            label,
            spreadText([x[rate] for x in rounds], lambda v: f"{v:.1f}"),
            spreadText([x[cpu] for x in rounds], lambda v: f"{v:.3f}"),
        ]

    rows = [
        row(r.labels[s], cost[s], "rps", "cpuMsPerRequest") for s in (NO_PUSH, CACHE)
    ]
    push = r.raw["pushCost"]
    pushRows = [
        row(label, push[arm], "pagesPerSecond", "cpuMsPerPage")
        for label, arm in (
            (f"txpush pushes the {len(r.typeOf)} assets (`--no-digest`)", "push"),
            ("the client requests them (`--no-push`)", "fetch"),
        )
    ]
    ratios = spreadText(r.costRatios(), lambda v: f"{v:.3f}")
    pageRatios = spreadText(r.pushRatios("pagesPerSecond"), lambda v: f"{v:.3f}")
    cpuRatios = spreadText(r.pushRatios("cpuMsPerPage"), lambda v: f"{v:.3f}")
    return [
        "## 3. Server cost",
        "",
        f"`h2load -n {plan['h2loadRequests']} -c 10 -m 10` on the page, directly",
        f"(no proxy), {plan['h2loadRounds']} rounds alternating the two servers.",
        "h2load never accepts pushes, so txpush serves it as it serves a browser:",
        "Early Hints, preload headers, the digest cookie.  Server CPU is the",
        "server process's user + system time over the run.  Median (min-max):",
        "",
        table(["server", "requests/s", "server CPU ms/request"], rows),
        "",
        f"txpush / twist web, requests per second, paired by round: {ratios}.",
        "",
        f"Pages per second with pushes accepted: {plan['pushLoadClients']} client",
        "processes (python h2 over TLS, a new connection per page load so that",
        f"every load is a first visit), {plan['pushLoadSeconds']:g} s per round,",
        f"{plan['pushLoadRounds']} rounds alternating the two arms.  Median",
        "(min-max):",
        "",
        table(["arm", "pages/s", "server CPU ms/page"], pushRows),
        "",
        f"Push / fetch, paired by round: pages per second {pageRatios}; server",
        f"CPU per page {cpuRatios}.",
        "",
        "Where txpush's time goes: `python bench/profile_server.py` writes an"
        " ablation and a py-spy profile to"
        f" [profile.md]({relative(PROFILE, out)}).",
        "",
    ]


def digestSection(r: Results, out: Path) -> list[str]:
    digest = r.raw["digest"]
    text = digest["markdown"].split("\n", 1)[1].strip() if digest["markdown"] else ""
    when = (
        "run by this run"
        if digest["fresh"]
        else "not run by a quick run: the figures of its last run"
    )
    return [
        "## 4. The cache digest",
        "",
        f"`python bench/bench_digest.py` ({when}; also in"
        f" [digest.md]({relative(DIGEST, out)})):",
        "",
        text,
        "",
    ]


def _errorBars(r: Results, servers: list[str], rtt: int) -> tuple[list, list, list]:
    medians, lows, highs = [], [], []
    for server in servers:
        times = [t * 1e3 for t in r.times(server, rtt)] or [0.0]
        medians.append(median(times))
        lows.append(medians[-1] - min(times))
        highs.append(max(times) - medians[-1])
    return medians, lows, highs


def firstVisitPlot(r: Results, path: Path) -> None:
    """Page-complete time by server, one panel per RTT, min-max error bars."""
    servers = list(r.labels)
    figure, axes = plt.subplots(1, len(r.rtts), figsize=(4.2 * len(r.rtts), 4.8))
    positions = list(range(len(servers)))
    for axis, rtt in zip(axes, r.rtts, strict=True):
        medians, lows, highs = _errorBars(r, servers, rtt)
        axis.bar(
            positions,
            medians,
            yerr=[lows, highs],
            capsize=3,
            color=[COLOURS.get(s, "#555555") for s in servers],
        )
        for x, value, high in zip(positions, medians, highs, strict=True):
            axis.annotate(
                f"{value:.0f}",
                (x, value + high),  # Above the error bar.
                ha="center",
                va="bottom",
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=8,
            )
        if rtt:  # One round trip, for scale.
            axis.axhline(rtt, color="#444444", linewidth=0.8, linestyle=":")
        axis.set_title(f"RTT {rtt} ms")
        axis.set_xticks(
            positions,
            [r.labels[s] for s in servers],
            rotation=40,
            ha="right",
            fontsize=8,
        )
        axis.set_ylabel("page complete, ms (median, min-max)")
    figure.suptitle(
        "First visit: page-complete time (nghttp, TLS, HTTP/2;"
        f" {len(r.typeOf)} assets, {r.assetBytes / 1e6:.2f} MB)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def repeatVisitPlot(r: Results, path: Path) -> None:
    """Wasted pushed kilobytes on a repeat visit, by server, stacked by type."""
    servers = [s for s in r.labels if s in r.raw["repeatVisit"]]
    byType = [r.wastedByType(s) for s in servers]
    kinds = list(dict.fromkeys(k for counts in byType for k in counts))
    total = r.assetBytes / 1e3
    figure, axis = plt.subplots(figsize=(7.5, 3.8))
    positions = list(range(len(servers)))
    left = [0.0] * len(servers)
    for kind in kinds:
        values = [counts.get(kind, 0) / 1e3 for counts in byType]
        axis.barh(
            positions,
            values,
            left=left,
            color=TYPE_COLOURS.get(kind, "#555555"),
            label=f"{TYPE_NAMES.get(kind, kind)}"
            f" ({r.typeBytes.get(kind, 0) / 1e3:.0f} KB)",
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, server in enumerate(servers):
        value = median(r.wasted(server)) / 1e3
        axis.annotate(
            f"{value:,.0f} KB",
            (left[y], y),
            va="center",
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
        )
    axis.set_yticks(positions, [r.labels[s] for s in servers], fontsize=8)
    axis.invert_yaxis()
    axis.axvline(total, color="#444444", linewidth=0.8, linestyle=":")
    axis.set_xlim(0, total * 1.35)
    axis.set_xlabel(f"pushed KB the client had cached (all assets: {total:.0f} KB)")
    axis.set_title("Repeat visit: wasted push by asset type (median)")
    axis.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def digestHeadline(r: Results) -> str:
    """The 100-path row of the digest table, in words."""
    for line in r.raw["digest"]["markdown"].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] == "100":
            return (
                f"a 100-asset cookie parses in {cells[3]} us, a lookup takes"
                f" {cells[4]} us, encoding {cells[5]} us"
            )
    return "parse, lookup and encode timings"


def summary(r: Results, out: Path) -> str:
    """10-20 lines for the project README, links relative to the repository."""
    resolved = out.resolve()
    # A run written outside the repository (--out /tmp/...) links by its path.
    link = (
        resolved.relative_to(REPO).as_posix()
        if resolved.is_relative_to(REPO)
        else resolved.as_posix()
    )
    verdicts = goals(r)
    plain = ", ".join(f"{r.saving(PLAIN, t):.2f} RTT at {t} ms" for t in r.timed)
    cache = ", ".join(f"{r.saving(CACHE, t):.2f} RTT at {t} ms" for t in r.timed)
    over = ", ".join(
        f"{(r.cacheOverPlain(t) - 1) * 100:+.1f}% at {t} ms" for t in r.timed
    )
    raw = r.raw
    page = raw["site"]["sizes"][workload.PAGE]

    def wasted(server: str) -> str:
        # The bytes, and which types they were when not every asset.
        total = median(r.wasted(server))
        kinds = [TYPE_NAMES.get(k, k) for k, v in r.wastedByType(server).items() if v]
        if total == 0 or len(kinds) == len(r.types):
            return f"{total:,.0f}"
        return f"{total:,.0f} ({' and '.join(kinds)})"

    return "\n".join(
        [
            "## Benchmarks",
            "",
            f"`python bench/run.py` ({raw['when'][:10]}, {raw['machine']['cores']}"
            f" cores) loads a {page / 1e3:.0f} KB page and its {len(r.typeOf)}"
            f" assets ({r.siteText()}: {r.assetBytes / 1e6:.2f} MB,",
            "the bytes per type of HTTP Archive's median mobile home page, Web",
            "Almanac 2025) over TLS and HTTP/2 through a delaying proxy, from",
            "txpush, stock `twist web`, nghttpd and H2O 2.2.5 side by side:",
            "",
            f"- **First visit**: push completes the page sooner than no push by"
            f" {plain} (plain push) and {cache} (cache-aware push); cache-aware"
            f" push's time differs from plain push's by {over}.",
            f"- **Repeat visit**: cache-aware push pushes {wasted(CACHE)} bytes"
            f" the client already has; plain push {wasted(PLAIN)}, nghttpd"
            f" {wasted('nghttpd')}, H2O with casper {wasted('h2o')}.",
            f"- **Server cost**: txpush serves {median(r.costRatios()):.2f}x the"
            " requests per second of stock `twist web` (h2load); a page whose"
            " assets are pushed costs the server"
            f" {median(r.pushRatios('cpuMsPerPage')):.2f}x the CPU of one whose"
            " assets the client requests.",
            f"- **Digest**: {digestHeadline(r)} ([digest.md]"
            f"({DIGEST.relative_to(REPO).as_posix()})).",
            f"- Goals met: {sum(ok for _, _, ok in verdicts)} of {len(verdicts)}"
            + "".join(f" (missed: {goal})" for goal, _, ok in verdicts if not ok)
            + ";"
            " spreads, goals and where the time goes in"
            f" [results.md]({link}/results.md).",
            "",
            f"![First visit: page-complete time]({link}/first-visit.png)",
            f"![Repeat visit: wasted push]({link}/repeat-visit.png)",
            "",
        ]
    )


def write(raw: dict[str, Any], out: Path) -> None:
    """
    Write results.md, summary.md, first-visit.png and repeat-visit.png.

    @param raw: The results gathered by bench/run.py.
    @param out: The directory to write them to.
    """
    r = Results(raw)
    notes = out / "notes.md"
    sections = [
        *headerSection(r, out),
        *goalSection(r),
        *firstVisitSection(r),
        *repeatVisitSection(r),
        *costSection(r, out),
        *digestSection(r, out),
    ]
    if notes.exists():
        sections += [notes.read_text().strip(), ""]
    (out / "results.md").write_text("\n".join(sections))
    (out / "summary.md").write_text(summary(r, out))
    firstVisitPlot(r, out / "first-visit.png")
    repeatVisitPlot(r, out / "repeat-visit.png")


def main() -> None:
    """Rewrite a run's reports from its raw.json."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    write(json.loads((out / "raw.json").read_text()), out)


if __name__ == "__main__":
    main()
