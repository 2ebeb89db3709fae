"""Charts as inline SVG: drawn on the server, nothing fetched, readable without JavaScript.

Each chart carries its own text alternative (`<title>` and `<desc>`, named by
`aria-labelledby`); the page puts the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def bars(chart_id: str, title: str, description: str, series: Sequence[Bar]) -> str:
    """A bar per item, labelled under it every few bars so that labels never overlap."""
    width, height, bottom, top = 640, 200, 24, 16
    count = max(len(series), 1)
    slot = width / count
    highest = max((bar.value for bar in series), default=0) or 1
    label_every = max(1, math.ceil(count / 8))
    parts = [_open(chart_id, title, description, width, height)]
    for index, bar in enumerate(series):
        tall = (height - bottom - top) * bar.value / highest
        x = index * slot + slot * 0.15
        y = height - bottom - tall
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{tall:.1f}" '
            f'class="bar"><title>{escape(bar.label)}: {bar.value}</title></rect>'
        )
        if bar.value:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" class="value" '
                f'text-anchor="middle">{bar.value}</text>'
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 6}" class="label" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    volume: int
    two_way: bool


def network(
    chart_id: str, title: str, description: str, nodes: Sequence[str], edges: Sequence[Edge]
) -> str:
    """Nodes on a circle, an edge's thickness by its volume; a two-way edge is a solid line,
    a one-way edge a dashed arrow from who carried to whom they carried."""
    size, radius = 520, 190
    centre = size / 2
    where: dict[str, tuple[float, float]] = {}
    for index, node in enumerate(nodes):
        angle = 2 * math.pi * index / max(len(nodes), 1) - math.pi / 2
        where[node] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    biggest = max((edge.volume for edge in edges), default=1) or 1
    parts = [
        _open(chart_id, title, description, size, size),
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="18" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for edge in edges:
        if edge.source not in where or edge.target not in where:
            continue
        (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
        thickness = 1 + 7 * edge.volume / biggest
        style = "two-way" if edge.two_way else "one-way"
        arrow = "" if edge.two_way else ' marker-end="url(#arrow)"'
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{style}" '
            f'stroke-width="{thickness:.1f}"{arrow}/>'
        )
    for node, (x, y) in where.items():
        anchor = "start" if x >= centre else "end"
        shift = 9 if x >= centre else -9
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" class="node"/>'
            f'<text x="{x + shift:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" class="label">'
            f"{escape(_short(node))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> str:
    return (
        f'<svg id="{chart_id}" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def _short(label: str, most: int = 18) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"
