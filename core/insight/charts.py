"""Charts drawn on the server as SVG (no script, no CDN): bars with their labels and values."""
from __future__ import annotations

from html import escape
from typing import Sequence

PALETTE = ("#2f6db5", "#d9822b", "#3a9a5b", "#b53f3f", "#7b5ea7")


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
              width: int = 640, height: int = 260) -> str:
    """Grouped bars: one group per label, one bar per series."""
    if any(len(values) != len(labels) for _, values in series):
        raise ValueError("every series needs one value per label")
    top, bottom, left, right = 30, 50, 50, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, values in series for v in values] + [1])
    group = plot_w / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>']
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            x = x0 + j * bar
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar * 0.9:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)} '
                         f'{escape(str(label))}: {value:g}</title></rect>')
        parts.append(f'<text x="{x0 + group * 0.4:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                     f'{escape(str(label))[:12]}</text>')
    for j, (name, _) in enumerate(series):
        parts.append(f'<rect x="{left + j * 110}" y="{height - 16}" width="10" height="10" '
                     f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{left + j * 110 + 14}" y="{height - 7}" '
                     f'font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
