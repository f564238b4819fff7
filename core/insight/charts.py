"""Charts drawn on the server as SVG (no script, no CDN): bars on a value axis with gridlines,
each bar's value written on it, the categories under the axis and a legend."""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#2f6db5", "#d9822b", "#3a9a5b", "#b53f3f", "#7b5ea7")
INK, GRID = "#1d2733", "#d8dee6"


def nice_ticks(peak: float, count: int = 5) -> list[float]:
    """Round axis steps (1, 2, 2.5, 5 × 10^n) from zero to at least ``peak``."""
    if peak <= 0:
        return [0, 1]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(step * i, 10) for i in range(int(math.ceil(peak / step)) + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.1f}"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
              unit: str = "", width: int = 720, height: int = 300) -> str:
    """Grouped bars: one group per label, one bar per series; ``unit`` names the value axis."""
    if any(len(values) != len(labels) for _, values in series):
        raise ValueError("every series needs one value per label")
    group_min = 70  # below this a category's name is written slanted, under its bars
    slanted = len(labels) * group_min > width - 76
    top, bottom, left, right = 44, 110 if slanted else 64, 64, 12
    height += bottom - 64
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max([v for _, values in series for v in values] + [0]))
    peak = ticks[-1]
    group = plot_w / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    y_of = lambda v: top + plot_h - plot_h * v / peak  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold" fill="{INK}">{escape(title)}</text>']
    if unit:
        parts.append(f'<text class="axis-unit" x="{left - 8}" y="{top - 8}" font-size="11" text-anchor="end" fill="{INK}">'
                     f'{escape(unit)}</text>')
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="{INK}">'
                     f'{_number(tick)}</text>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{INK}"/>'
                 f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{INK}"/>')
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i]
            x, y = x0 + j * bar, y_of(value)
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" '
                         f'height="{top + plot_h - y:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)} '
                         f'{escape(str(label))}: {_number(value)}</title></rect>')
            if bar >= 14:
                parts.append(f'<text class="value" x="{x + bar * 0.45:.1f}" y="{y - 3:.1f}" font-size="10" '
                             f'text-anchor="middle" fill="{INK}">{_number(value)}</text>')
        x, y = x0 + group * 0.4, top + plot_h + 15
        if slanted:
            parts.append(f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="end" fill="{INK}" '
                         f'transform="rotate(-40 {x:.1f} {y})">{escape(str(label))[:14]}</text>')
        else:
            parts.append(f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="middle" fill="{INK}">'
                         f'{escape(str(label))[:14]}</text>')
    for j, (name, _) in enumerate(series):
        x = left + j * 150
        parts.append(f'<rect x="{x}" y="{height - 18}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text class="legend" x="{x + 16}" y="{height - 8}" font-size="12" fill="{INK}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
