"""Candidates packed into flat arrays, so 1:N matching runs in one compiled loop without per-call overhead."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .edges import SearchTemplate
from .template import Template


class Gallery:
    """Search templates of many candidates, concatenated (build once, match many probes against it)."""

    def __init__(self, templates: Iterable[Template | SearchTemplate]) -> None:
        searchable = [t if isinstance(t, SearchTemplate) else SearchTemplate.build(t) for t in templates]
        self._size = len(searchable)
        counts = np.array([t.count for t in searchable], dtype=np.int64)
        self.counts = counts
        self.minutia_offsets = _offsets(counts)
        self.edge_offsets = _offsets(counts * counts)
        self.star_offsets_offsets = _offsets(counts + 1)
        self.star_neighbor_offsets = _offsets(np.array([t.star_neighbors.shape[0] for t in searchable], dtype=np.int64))
        self.types = _concat([t.types for t in searchable], np.int8)
        self.lengths = _concat([t.lengths.ravel() for t in searchable], np.int32)
        self.reference_angles = _concat([t.reference_angles.ravel() for t in searchable], np.float32)
        self.neighbor_angles = _concat([t.neighbor_angles.ravel() for t in searchable], np.float32)
        self.star_offsets = _concat([t.star_offsets for t in searchable], np.int32)
        self.star_neighbors = _concat([t.star_neighbors for t in searchable], np.int32)

    def __len__(self) -> int:
        return self._size

    def arrays(self) -> tuple:
        return (
            self.counts, self.minutia_offsets, self.edge_offsets, self.star_offsets_offsets,
            self.star_neighbor_offsets, self.types, self.lengths, self.reference_angles, self.neighbor_angles,
            self.star_offsets, self.star_neighbors,
        )


def _offsets(sizes: np.ndarray) -> np.ndarray:
    offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets


def _concat(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
