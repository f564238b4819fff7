"""Thinning of binary ridges to one-pixel skeletons (SourceAFIS's BinaryThinning)."""

import numba
import numpy as np

from . import extraction_parameters as parameters

_SKELETON = 0
_ENDING = 1
_REMOVABLE = 2


def _neighborhood_types() -> np.ndarray:
    types = np.empty(256, dtype=np.int8)
    for mask in range(256):
        tl, tc, tr = mask & 1, mask & 2, mask & 4
        cl, cr = mask & 8, mask & 16
        bl, bc, br = mask & 32, mask & 64, mask & 128
        diagonal = (not tc and not cl and tl) or (not cl and not bc and bl) or (not bc and not cr and br) or (
            not cr and not tc and tr
        )
        horizontal = not tc and not bc and (tr or cr or br) and (tl or cl or bl)
        vertical = not cl and not cr and (tl or tc or tr) and (bl or bc or br)
        if bin(mask).count("1") == 1:
            types[mask] = _ENDING
        elif not diagonal and not horizontal and not vertical:
            types[mask] = _REMOVABLE
        else:
            types[mask] = _SKELETON
    return types


_TYPES = _neighborhood_types()
_CORNERS = np.array([(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)], dtype=np.int64)


@numba.njit(cache=True)
def _is_false_ending(binary, x, y, corners):
    height, width = binary.shape
    for i in range(8):
        nx = x + corners[i, 0]
        ny = y + corners[i, 1]
        if binary[ny, nx]:
            count = 0
            for j in range(8):
                mx = nx + corners[j, 0]
                my = ny + corners[j, 1]
                if 0 <= mx < width and 0 <= my < height and binary[my, mx]:
                    count += 1
            return count > 2
    return False


@numba.njit(cache=True)
def _thin(image, types, corners, iterations):
    height, width = image.shape
    partial = np.zeros((height, width), dtype=np.bool_)
    # Per row, pixels still undecided (set in partial, not yet kept in thinned); rows
    # without any are skipped, which changes nothing but the time taken.
    pending = np.zeros(height, dtype=np.int64)
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            if image[y, x]:
                partial[y, x] = True
                pending[y] += 1
    thinned = np.zeros((height, width), dtype=np.bool_)
    removed = True
    i = 0
    while i < iterations and removed:
        removed = False
        for even_y in range(2):
            for even_x in range(2):
                for y in range(1 + even_y, height - 1, 2):
                    if pending[y] == 0:
                        continue
                    for x in range(1 + even_x, width - 1, 2):
                        if partial[y, x] and not thinned[y, x] and not (
                            partial[y - 1, x] and partial[y + 1, x] and partial[y, x - 1] and partial[y, x + 1]
                        ):
                            neighbors = (
                                (128 if partial[y + 1, x + 1] else 0)
                                | (64 if partial[y + 1, x] else 0)
                                | (32 if partial[y + 1, x - 1] else 0)
                                | (16 if partial[y, x + 1] else 0)
                                | (8 if partial[y, x - 1] else 0)
                                | (4 if partial[y - 1, x + 1] else 0)
                                | (2 if partial[y - 1, x] else 0)
                                | (1 if partial[y - 1, x - 1] else 0)
                            )
                            kind = types[neighbors]
                            if kind == 2 or (kind == 1 and _is_false_ending(partial, x, y, corners)):
                                removed = True
                                partial[y, x] = False
                            else:
                                thinned[y, x] = True
                            pending[y] -= 1
        i += 1
    return thinned


def thin(binary: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton of the True areas ("thinned-skeleton")."""
    return _thin(np.ascontiguousarray(binary, dtype=np.bool_), _TYPES, _CORNERS, parameters.THINNING_ITERATIONS)
