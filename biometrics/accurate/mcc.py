"""Minutia Cylinder-Code: a second minutia matcher, independent of SourceAFIS's edge graph.

This module is this project's own implementation of the algorithm published by R. Cappelli,
M. Ferrara and D. Maltoni, "Minutia Cylinder-Code: a new representation and matching technique
for fingerprint recognition", IEEE TPAMI 32(12), 2010 (no code of theirs or of anyone else is
copied). It works on the minutiae of the templates the project already extracts (positions in
the 500 dpi frame, directions in radians measured in the image's own axes, y down).

Every minutia m gets a cylinder: a disc of radius R around it, turned to m's direction, cut into
Ns × Ns spatial cells × Nd directional cells. A cell holds how many neighbour minutiae lie near
its centre (a Gaussian of the distance, σs) whose direction relative to m falls in the cell's
angular bin (the integral of a Gaussian, σd, over the bin), squashed by a sigmoid. Cells outside
the disc, or far outside the convex hull of the print's minutiae (there the absence of minutiae
says nothing), are invalid. A cylinder with too few valid cells or neighbours is dropped.

Two cylinders compare by 1 - |a - b| / (|a| + |b|) over the cells valid in both (0 when their
minutiae point more than π/2 apart or they share too few cells); a template pair's score is the
mean of the n_P best of these local similarities (Local Similarity Sort, LSS), n_P growing with
the smaller template's minutia count from MIN_NP to MAX_NP. The float version is used. Because
each cylinder is in its minutia's own frame, the score does not depend on the print's position
or rotation on the glass, up to the paper's δθ = π/2: a print turned by more than 90° pairs no
cylinders (no desk scanner takes a finger upside down).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..sourceafis.template import Template

# The published parameters (Cappelli, Ferrara & Maltoni 2010, table of MCC parameters), 500 dpi.
RADIUS = 70.0
NS = 16
ND = 6
SIGMA_S = 28.0 / 3.0
SIGMA_D = 2.0 * math.pi / 9.0
MU_PSI = 0.01
TAU_PSI = 400.0
HULL_OFFSET = 50.0  # Ω: how far outside the minutiae's convex hull cells stay valid
MIN_VALID_SHARE = 0.75  # min_VC, as a share of the cells inside the disc
MIN_NEIGHBOURS = 2  # min_M
MIN_MATCHABLE_SHARE = 0.60  # min_ME, as a share of all Ns² · Nd cells
MAX_ANGLE = math.pi / 2  # δθ
MIN_NP = 4
MAX_NP = 12
MU_P = 20.0
TAU_P = 2.0 / 5.0


@dataclass(frozen=True)
class Cylinders:
    """The valid cylinders of one template: cell values (n × Ns² · Nd, float32), which spatial
    cells are valid (n × Ns², bool), the minutiae's directions (n), and the template's minutia
    count (for n_P)."""

    values: np.ndarray
    valid: np.ndarray
    directions: np.ndarray
    minutiae: int

    def __len__(self) -> int:
        return self.values.shape[0]


@njit(cache=True)
def _angle_difference(a: float, b: float) -> float:
    """a - b brought into [-π, π)."""
    d = a - b
    while d < -math.pi:
        d += 2 * math.pi
    while d >= math.pi:
        d -= 2 * math.pi
    return d


@njit(cache=True)
def _near_hull(px: float, py: float, hull: np.ndarray, offset: float) -> bool:
    """Whether (px, py) lies inside the convex polygon `hull` (counter-clockwise in x-right,
    y-up terms of the stored coordinates, see _convex_hull) or within `offset` of its edges."""
    n = hull.shape[0]
    if n == 0:
        return False
    if n == 1:
        return math.hypot(px - hull[0, 0], py - hull[0, 1]) <= offset
    inside = n >= 3
    for i in range(n):
        ax, ay = hull[i, 0], hull[i, 1]
        bx, by = hull[(i + 1) % n, 0], hull[(i + 1) % n, 1]
        if (bx - ax) * (py - ay) - (by - ay) * (px - ax) < 0:
            inside = False
    if inside:
        return True
    for i in range(n):
        ax, ay = hull[i, 0], hull[i, 1]
        bx, by = hull[(i + 1) % n, 0], hull[(i + 1) % n, 1]
        ex, ey = bx - ax, by - ay
        length = ex * ex + ey * ey
        t = 0.0 if length == 0 else min(max(((px - ax) * ex + (py - ay) * ey) / length, 0.0), 1.0)
        if math.hypot(px - ax - t * ex, py - ay - t * ey) <= offset:
            return True
    return False


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain; vertices in counter-clockwise order (cross products > 0)."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) <= 2:
        return np.array(pts, dtype=np.float64).reshape(-1, 2)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], dtype=np.float64)


@njit(cache=True)
def _build(x, y, theta, hull, values, valid, keep):
    """Fills the cylinder of every minutia; keep[i] says whether minutia i's cylinder is valid."""
    n = x.shape[0]
    cell = 2.0 * RADIUS / NS
    angle_cell = 2.0 * math.pi / ND
    reach = 3.0 * SIGMA_S
    spatial_norm = 1.0 / (SIGMA_S * math.sqrt(2.0 * math.pi))
    erf_scale = 1.0 / (SIGMA_D * math.sqrt(2.0))
    in_disc = 0
    for i in range(NS):
        for j in range(NS):
            if math.hypot(i - (NS - 1) / 2.0, j - (NS - 1) / 2.0) * cell <= RADIUS:
                in_disc += 1
    directional = np.empty((n, ND))
    for m in range(n):
        cos_t, sin_t = math.cos(theta[m]), math.sin(theta[m])
        neighbours = 0
        for t in range(n):
            if t != m and math.hypot(x[t] - x[m], y[t] - y[m]) <= RADIUS + reach:
                neighbours += 1
            # The directional contribution depends on the pair of minutiae, not on the cell:
            # the integral of the Gaussian (σd) over each angular bin, computed once per pair.
            relative = _angle_difference(theta[m], theta[t])
            for k in range(ND):
                alpha = _angle_difference(-math.pi + (k + 0.5) * angle_cell, relative)
                directional[t, k] = 0.5 * (math.erf((alpha + angle_cell / 2) * erf_scale)
                                           - math.erf((alpha - angle_cell / 2) * erf_scale))
        valid_cells = 0
        for i in range(NS):
            for j in range(NS):
                # Cell (i, j)'s centre in m's frame, then turned by m's direction onto the print.
                u = (i - (NS - 1) / 2.0) * cell
                v = (j - (NS - 1) / 2.0) * cell
                px = x[m] + cos_t * u - sin_t * v
                py = y[m] + sin_t * u + cos_t * v
                s = i * NS + j
                ok = math.hypot(u, v) <= RADIUS and _near_hull(px, py, hull, HULL_OFFSET)
                valid[m, s] = ok
                if not ok:
                    for k in range(ND):
                        values[m, s * ND + k] = 0.0
                    continue
                valid_cells += 1
                for k in range(ND):
                    values[m, s * ND + k] = 0.0
                for t in range(n):
                    if t == m:
                        continue
                    d = math.hypot(x[t] - px, y[t] - py)
                    if d > reach:
                        continue
                    spatial = spatial_norm * math.exp(-d * d / (2.0 * SIGMA_S * SIGMA_S))
                    for k in range(ND):
                        values[m, s * ND + k] += spatial * directional[t, k]
                for k in range(ND):
                    values[m, s * ND + k] = 1.0 / (1.0 + math.exp(-TAU_PSI * (values[m, s * ND + k] - MU_PSI)))
        keep[m] = valid_cells >= MIN_VALID_SHARE * in_disc and neighbours >= MIN_NEIGHBOURS


def cylinders(template: Template) -> Cylinders:
    """The template's valid cylinders (computed once per template; a gallery keeps them)."""
    n = len(template.minutiae)
    x = np.array([m.x for m in template.minutiae], dtype=np.float64)
    y = np.array([m.y for m in template.minutiae], dtype=np.float64)
    theta = np.array([m.direction for m in template.minutiae], dtype=np.float64)
    hull = _convex_hull(np.stack([x, y], axis=1)) if n else np.zeros((0, 2))
    values = np.empty((n, NS * NS * ND), dtype=np.float64)
    valid = np.empty((n, NS * NS), dtype=np.bool_)
    keep = np.zeros(n, dtype=np.bool_)
    if n:
        _build(x, y, theta, np.ascontiguousarray(hull), values, valid, keep)
    return Cylinders(values[keep].astype(np.float32), valid[keep], theta[keep], n)


@njit(cache=True)
def _similarities(va, ma, da, vb, mb, db):
    """The local similarity matrix Γ of two templates' cylinders."""
    na, nb = va.shape[0], vb.shape[0]
    out = np.zeros((na, nb))
    cells = ma.shape[1] if na else 0
    for a in range(na):
        for b in range(nb):
            if abs(_angle_difference(da[a], db[b])) > MAX_ANGLE:
                continue
            common = 0
            diff = 0.0
            norm_a = 0.0
            norm_b = 0.0
            for s in range(cells):
                if ma[a, s] and mb[b, s]:
                    common += 1
                    for k in range(ND):
                        p = va[a, s * ND + k]
                        q = vb[b, s * ND + k]
                        diff += (p - q) * (p - q)
                        norm_a += p * p
                        norm_b += q * q
            if common * ND < MIN_MATCHABLE_SHARE * NS * NS * ND:
                continue
            total = math.sqrt(norm_a) + math.sqrt(norm_b)
            if total > 0:
                out[a, b] = 1.0 - math.sqrt(diff) / total
    return out


def pairs_to_consolidate(a: Cylinders, b: Cylinders) -> int:
    """n_P of LSS: from MIN_NP to MAX_NP by a sigmoid of the smaller minutia count."""
    smaller = min(a.minutiae, b.minutiae)
    return MIN_NP + int(round((MAX_NP - MIN_NP) / (1.0 + math.exp(-TAU_P * (smaller - MU_P)))))


def similarity(a: Cylinders, b: Cylinders) -> float:
    """The global score in [0, 1]: LSS, the mean of the n_P largest local similarities."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    gamma = _similarities(a.values, a.valid, a.directions, b.values, b.valid, b.directions).ravel()
    count = min(pairs_to_consolidate(a, b), gamma.size)
    return float(np.partition(gamma, gamma.size - count)[gamma.size - count:].mean())


class MccMatcher:
    """One probe against many candidates, as SourceAFIS's Matcher: the probe's cylinders once."""

    def __init__(self, probe: Template | Cylinders) -> None:
        self.probe = probe if isinstance(probe, Cylinders) else cylinders(probe)

    def match(self, candidate: Template | Cylinders) -> float:
        return similarity(self.probe, candidate if isinstance(candidate, Cylinders) else cylinders(candidate))
