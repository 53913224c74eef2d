"""One self-contained HTML page: escaped text, inline CSS, figures embedded as PNG data URIs.

A report must open anywhere, offline, as a single file, and must never run what a study
holds: a study name, a config value or a trainer's error message is *text*, whatever
characters it contains. So every piece of text reaches the page through :func:`esc`
(``html.escape``, quotes included), the page's own markup is written here and nowhere
else, and a ``Content-Security-Policy`` forbids scripts and any load but ``data:``
images, so that even a mistake could not run a script or fetch anything.

Figures are :class:`matplotlib.figure.Figure` objects (made directly, without pyplot's
global state), rendered to PNG and embedded as ``data:image/png;base64`` URIs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

#: No scripts, no fetches: inline styles and data: images only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
DPI = 96

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 16px 24px 48px; color: #1d2330; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0; word-break: break-word; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #d8dce4; }
p.note, p.lead { color: #4a5366; margin: 0.3em 0 0.8em; }
.notice { background: #fff6dd; border: 1px solid #e9cf7a; padding: 8px 12px; margin: 10px 0; }
.problem { background: #fde8e8; border: 1px solid #e8a0a0; padding: 8px 12px; margin: 10px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { font-weight: 600; color: #333c4e; }
dl.facts dd { margin: 0; word-break: break-word; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #4a5366; font-size: 0.92em; margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 6px 0 14px; }
th, td { border: 1px solid #d8dce4; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f1f3f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selected td { background: #e7f5e9; font-weight: 600; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.92em; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f7f9; padding: 6px; }
nav a { margin-right: 12px; }
footer { margin-top: 32px; color: #7a8294; font-size: 0.85em; }
"""


def esc(value: Any) -> str:
    """``value`` as HTML text: ``<``, ``>``, ``&`` and both quotes escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell (``-`` for missing or non-finite); anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    return str(value)


def pct(value: float | None, digits: int = 1) -> str:
    """``0.123`` -> ``12.3%``; ``-`` for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{100 * value:.{digits}f}%"


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def img(fig: Figure, alt: str, dpi: int = DPI) -> str:
    """An ``<img>`` holding the figure as a PNG data URI (``alt`` is escaped)."""
    data = base64.b64encode(figure_png(fig, dpi)).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[bool] | None = None, row_classes: Sequence[str] | None = None,
          caption: str | None = None) -> str:
    """An HTML table; every header and cell is escaped (numbers formatted by :func:`fmt`)."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes is not None and i < len(row_classes) else ""
        cells = []
        for j, cell in enumerate(row):
            is_num = numeric[j] if numeric is not None and j < len(numeric) else isinstance(
                cell, int | float) and not isinstance(cell, bool)
            attr = ' class="num"' if is_num else ""
            cells.append(f"<td{attr}>{esc(fmt(cell))}</td>")
        out.append((f'<tr class="{esc(cls)}">' if cls else "<tr>") + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def facts(items: Iterable[tuple[str, Any]]) -> str:
    """A definition list of (label, value) pairs, both escaped."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(fmt(v))}</dd>" for k, v in items)
    return f'<dl class="facts">{rows}</dl>'


def paragraph(text: str, cls: str = "note") -> str:
    return f'<p class="{esc(cls)}">{esc(text)}</p>'


def box(text: str, cls: str = "notice") -> str:
    """A highlighted one-paragraph message (``notice`` or ``problem``)."""
    return f'<div class="{esc(cls)}">{esc(text)}</div>'


def details(summary: str, body: str) -> str:
    """A collapsed block whose ``body`` is shown as preformatted text."""
    return f"<details><summary>{esc(summary)}</summary><pre>{esc(body)}</pre></details>"


@dataclass
class Section:
    """One titled part of the page; ``parts`` are HTML fragments made by this module."""

    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, fragment: str) -> Section:
        self.parts.append(fragment)
        return self

    def figure(self, fig: Figure, caption: str, alt: str | None = None) -> Section:
        self.parts.append(f"<figure>{img(fig, alt or caption)}"
                          f"<figcaption>{esc(caption)}</figcaption></figure>")
        return self


@dataclass
class Page:
    """A report page: a title, a header block and sections, assembled by :meth:`render`."""

    title: str
    header: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def section(self, anchor: str, title: str) -> Section:
        s = Section(anchor, title)
        self.sections.append(s)
        return s

    def render(self, *, refresh: float | None = None) -> str:
        """The whole document. ``refresh``: seconds after which the browser reloads it
        (``<meta http-equiv="refresh">``, while a study is watched)."""
        head = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
        ]
        if refresh is not None:
            head.append(f'<meta http-equiv="refresh" content="{max(1, math.ceil(refresh))}">')
        head += [f"<title>{esc(self.title)}</title>", f"<style>{_CSS}</style>", "</head>"]
        body = ["<body>", f"<h1>{esc(self.title)}</h1>", *self.header]
        if len(self.sections) > 1:
            body.append("<nav>" + "".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>'
                                          for s in self.sections) + "</nav>")
        for s in self.sections:
            body.append(f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2>')
            body.extend(s.parts)
            body.append("</section>")
        if self.footer:
            body.append(f"<footer>{esc(self.footer)}</footer>")
        body.append("</body></html>")
        return "\n".join(head + body) + "\n"


def plain(text: Any) -> str:
    """Text for a matplotlib label: ``$`` escaped so that it is never read as mathtext."""
    return str(text).replace("$", r"\$")
