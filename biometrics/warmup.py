"""Imported by the matching pool's fork server: compile the engine once, so every worker
forked from it starts warm. A synthetic ridge pattern reaches the extractor and matcher."""
from __future__ import annotations

import numpy as np

from .engine import analyse, compact_chunk, identify_compact, scores, search


def _warm() -> None:
    from PIL import Image
    import io

    y, x = np.mgrid[0:320, 0:320]
    ridges = 0.5 + 0.5 * np.sin(np.hypot(x - 160, y - 150) / 1.6 + np.arctan2(y - 150, x - 160) * 2)
    out = io.BytesIO()
    Image.fromarray((ridges * 255).astype(np.uint8), mode="L").save(out, "PNG")
    analysis = analyse(out.getvalue(), 500.0)
    scores(analysis.template, [analysis.template])
    search(analysis.template, [[analysis.template, analysis.template]])
    identify_compact(analysis.template, [compact_chunk([analysis.template])], 40.0)
    # The accuracy mode's kernels too: a deployment may run in it, or verify people enrolled in it.
    enhanced = analyse(out.getvalue(), 500.0, "accurate")
    scores(enhanced.template, [enhanced.template])


try:
    _warm()
except Exception:  # noqa: BLE001 - warming is an optimisation; a worker compiles on first use instead
    pass
