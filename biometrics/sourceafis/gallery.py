"""Candidates packed into flat arrays, so 1:N matching runs in one compiled loop without per-call overhead."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .edges import SearchTemplate
from .template import Template


class Gallery:
    """Search templates of many candidates, concatenated (build once, match any number of probes against it)."""

    def __init__(self, templates: Iterable[Template | SearchTemplate]) -> None:
        searchable = [t if isinstance(t, SearchTemplate) else SearchTemplate.build(t) for t in templates]
        self._size = len(searchable)
        counts = np.array([t.count for t in searchable], dtype=np.int64)
        self.counts = counts
        self.max_count = int(counts.max()) if self._size else 0
        self.minutia_offsets = _offsets(counts)
        self.matrix_offsets = _offsets(counts * counts)
        self.star_offset_offsets = _offsets(counts + 1)
        self.star_entry_offsets = _offsets(np.array([t.star_neighbors.shape[0] for t in searchable], dtype=np.int64))
        self.root_offsets = _offsets(np.array([t.root_lengths.shape[0] for t in searchable], dtype=np.int64))
        self.types = _concat([t.types for t in searchable], np.int8)
        self.lengths = _concat([t.lengths.ravel() for t in searchable], np.int16)
        self.reference_angles = _concat([t.reference_angles.ravel() for t in searchable], np.float32)
        self.neighbor_angles = _concat([t.neighbor_angles.ravel() for t in searchable], np.float32)
        star_fields = list(zip(*(t.star_arrays() for t in searchable))) or [()] * 5
        root_fields = list(zip(*(t.root_arrays() for t in searchable))) or [()] * 5
        self.star_arrays = tuple(
            _concat(list(field), dtype)
            for field, dtype in zip(star_fields, (np.int16, np.int16, np.int16, np.float32, np.float32))
        )
        self.root_arrays = tuple(
            _concat(list(field), dtype)
            for field, dtype in zip(root_fields, (np.int16, np.int16, np.float32, np.float32, np.int16))
        )

    def __len__(self) -> int:
        return self._size

    def arrays(self) -> tuple:
        return (
            self.counts, self.minutia_offsets, self.matrix_offsets, self.star_offset_offsets,
            self.star_entry_offsets, self.root_offsets,
            self.types, self.lengths, self.reference_angles, self.neighbor_angles,
            *self.star_arrays, *self.root_arrays,
        )


def _offsets(sizes: np.ndarray) -> np.ndarray:
    offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets


def _concat(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
