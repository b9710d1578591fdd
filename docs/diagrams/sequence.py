"""
Draw docs/diagrams/sequence.svg: one page load without push, with push, with
103 Early Hints, and a repeat visit with the digest cookie.

The SVG is written as text, so the same script always writes the same bytes
(tests/test_docs.py checks that the committed file is up to date).  Run::

    python docs/diagrams/sequence.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUTPUT = Path(__file__).with_suffix(".svg")

# Times are in round trips (RTT); the server renders a page in THINK.
THINK = 0.6
HALF = 0.5  # one-way latency

PANEL_WIDTH = 270
BROWSER_X = 48
SERVER_X = 222
TOP = 92
PX_PER_RTT = 150
BOTTOM_T = 2.95


@dataclass(frozen=True)
class Message:
    """An arrow between the lifelines: sent at C{start}, received later."""

    start: float
    label: str
    toServer: bool
    style: str = "response"
    # Where along the arrow its label sits: 0 at the sender, 1 at the receiver.
    labelAt: float = 0.5


@dataclass(frozen=True)
class Activity:
    """A box on a lifeline: the server rendering, the browser parsing."""

    start: float
    end: float
    label: str
    onServer: bool


@dataclass(frozen=True)
class Panel:
    """One scenario."""

    title: str
    subtitle: str
    messages: tuple[Message, ...]
    activities: tuple[Activity, ...]
    ready: float
    note: str


def scenarios() -> tuple[Panel, ...]:
    """
    The four scenarios, timed by the same model: requests and responses take
    half a round trip each way, the server renders the page in C{THINK}.
    """
    rendered = HALF + THINK
    noPush = Panel(
        "No push",
        "HTTP/1.1, or HTTP/2 without push",
        (
            Message(0, "GET /", True, "request"),
            Message(rendered, "200 page", False),
            Message(rendered + HALF, "GET /style.css, /app.js", True, "request"),
            Message(rendered + 2 * HALF, "200 style.css, app.js", False),
        ),
        (Activity(HALF, rendered, "render", True),),
        rendered + 3 * HALF,
        "the browser asks for the assets\nonly once it has parsed the page",
    )
    push = Panel(
        "Server push",
        "clients that take pushes",
        (
            Message(0, "GET /", True, "request"),
            Message(rendered, "PUSH_PROMISE /style.css, /app.js", False, "push"),
            Message(rendered + 0.15, "200 page", False),
            Message(rendered + 0.3, "pushed style.css, app.js", False, "push"),
        ),
        (Activity(HALF, rendered, "render", True),),
        rendered + 0.3 + HALF,
        "saved: about a round trip; the\nassets come with the page",
    )
    hints = Panel(
        "103 Early Hints",
        "browsers (they refuse pushes)",
        (
            Message(0, "GET /", True, "request"),
            Message(HALF, "103 Link: </style.css>; rel=preload", False, "hint"),
            Message(2 * HALF, "GET /style.css, /app.js", True, "request", 0.3),
            Message(rendered, "200 page", False, labelAt=0.3),
            Message(3 * HALF, "200 style.css, app.js", False),
        ),
        (Activity(HALF, rendered, "render", True),),
        max(rendered + HALF, 4 * HALF),
        "saved: the render time (up to one\nround trip); assets load meanwhile",
    )
    repeat = Panel(
        "Repeat visit",
        "the digest cookie says: cached",
        (
            Message(0, "GET /  Cookie: h2o_casper=...", True, "request"),
            Message(rendered, "200 page (nothing pushed)", False),
        ),
        (Activity(HALF, rendered, "render", True),),
        rendered + HALF,
        "style.css, app.js come from the\nbrowser's cache: no bytes wasted",
    )
    return (noPush, push, hints, repeat)


COLORS = {
    "request": "#1f4e79",
    "response": "#333333",
    "push": "#b35900",
    "hint": "#2e7d32",
}


def _y(t: float) -> float:
    return TOP + t * PX_PER_RTT


def _n(value: float) -> str:
    # Fixed notation keeps the output byte for byte the same everywhere.
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, **attributes: str) -> str:
    extra = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{value}"'
        for name, value in attributes.items()
    )
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{escape(text)}</text>'


def _panel(panel: Panel, left: float, baseline: float) -> list[str]:
    browser, server = left + BROWSER_X, left + SERVER_X
    middle = (browser + server) / 2
    out = [
        _text(middle, 28, panel.title, class_="title"),
        _text(middle, 46, panel.subtitle, class_="subtitle"),
    ]
    for x, name in ((browser, "browser"), (server, "server")):
        out.append(_text(x, 74, name, class_="actor"))
        out.append(
            f'<line x1="{_n(x)}" y1="{_n(TOP - 10)}" x2="{_n(x)}" '
            f'y2="{_n(_y(BOTTOM_T))}" class="lifeline"/>'
        )
    for activity in panel.activities:
        x = server if activity.onServer else browser
        top, bottom = _y(activity.start), _y(activity.end)
        out.append(
            f'<rect x="{_n(x - 7)}" y="{_n(top)}" width="14" '
            f'height="{_n(bottom - top)}" class="activity"/>'
        )
        out.append(
            _text(x + 12, (top + bottom) / 2 + 4, activity.label, class_="small")
        )
    for message in panel.messages:
        x1, x2 = (browser, server) if message.toServer else (server, browser)
        y1, y2 = _y(message.start), _y(message.start + HALF)
        color = COLORS[message.style]
        dash = ' stroke-dasharray="5 3"' if message.style == "hint" else ""
        out.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
            f'stroke="{color}" stroke-width="1.6"{dash} '
            f'marker-end="url(#arrow-{message.style})"/>'
        )
        out.append(
            _text(
                x1 + (x2 - x1) * message.labelAt,
                y1 + (y2 - y1) * message.labelAt - 5,
                message.label,
                class_="label",
                fill=color,
            )
        )
    ready = _y(panel.ready)
    out.append(f'<circle cx="{_n(browser)}" cy="{_n(ready)}" r="5" class="ready"/>')
    out.append(_text(browser - 9, ready + 4, f"{panel.ready:.1f}", class_="time"))
    if panel.ready < baseline - 1e-9:
        out.append(
            f'<line x1="{_n(browser - 38)}" y1="{_n(ready)}" '
            f'x2="{_n(browser - 38)}" y2="{_n(_y(baseline))}" class="saved" '
            'marker-start="url(#tick)" marker-end="url(#tick)"/>'
        )
    for number, line in enumerate(panel.note.split("\n")):
        out.append(_text(middle, _y(BOTTOM_T) + 22 + 15 * number, line, class_="note"))
    return out


STYLE = """
text { font-family: "DejaVu Sans", Verdana, sans-serif; fill: #222; }
.title { font-size: 16px; font-weight: bold; text-anchor: middle; }
.subtitle { font-size: 12px; fill: #555; text-anchor: middle; }
.actor { font-size: 12px; font-weight: bold; text-anchor: middle; }
.label { font-size: 10.5px; text-anchor: middle; paint-order: stroke;
         stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.small { font-size: 10px; fill: #555; }
.time { font-size: 11px; text-anchor: end; }
.note { font-size: 11px; fill: #333; text-anchor: middle; }
.legend { font-size: 11px; fill: #333; }
.lifeline { stroke: #999; stroke-width: 1; stroke-dasharray: 2 3; }
.activity { fill: #e8e8e8; stroke: #777; }
.ready { fill: #1b7f3b; }
.baseline { stroke: #c62828; stroke-width: 1; stroke-dasharray: 6 4; }
.saved { stroke: #1b7f3b; stroke-width: 2; }
"""


def render() -> str:
    """
    @return: The SVG document.
    """
    panels = scenarios()
    baseline = panels[0].ready
    width = PANEL_WIDTH * len(panels) + 20
    height = _y(BOTTOM_T) + 80
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{_n(height)}" '
        f'viewBox="0 0 {width} {_n(height)}" font-size="12">',
        "<title>Page loads without push, with push, with 103 Early Hints, "
        "and a repeat visit with the digest cookie</title>",
        f"<style>{STYLE}</style>",
        "<defs>",
    ]
    for style, color in COLORS.items():
        out.append(
            f'<marker id="arrow-{style}" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        )
    out.append(
        '<marker id="tick" viewBox="0 0 10 2" refX="5" refY="1" markerWidth="10" '
        'markerHeight="2" orient="auto"><rect width="10" height="2" '
        'fill="#1b7f3b"/></marker>'
    )
    out.append("</defs>")
    out.append(f'<rect width="{width}" height="{_n(height)}" fill="#fff"/>')
    out.append(
        f'<line x1="10" y1="{_n(_y(baseline))}" x2="{width - 10}" '
        f'y2="{_n(_y(baseline))}" class="baseline"/>'
    )
    for index, panel in enumerate(panels):
        out.extend(_panel(panel, 10 + index * PANEL_WIDTH, baseline))
    legend = _y(BOTTOM_T) + 68
    out.append(
        _text(
            20,
            legend,
            f"Time flows down, in round trips (RTT); the server renders the page "
            f"in {_n(THINK)} RTT. Green dot: the page and its assets are in "
            "the browser. Dashed red line: without push.",
            class_="legend",
        )
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    """Write the SVG beside this script."""
    OUTPUT.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
