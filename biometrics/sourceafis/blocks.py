"""The grid of ~15 px blocks the image is cut into (SourceAFIS's BlockMap).

The primary grid splits the image into blocks; the secondary grid has one cell per
primary corner, bounded by primary block centres, for interpolation between blocks.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockGrid:
    # Pixel coordinates of the cell boundaries: len(xs) = cells across + 1.
    xs: np.ndarray
    ys: np.ndarray

    @property
    def width(self) -> int:
        return len(self.xs) - 1

    @property
    def height(self) -> int:
        return len(self.ys) - 1

    def block(self, bx: int, by: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of one cell."""
        return int(self.xs[bx]), int(self.ys[by]), int(self.xs[bx + 1]), int(self.ys[by + 1])


@dataclass(frozen=True)
class BlockMap:
    width: int
    height: int
    primary: BlockGrid
    secondary: BlockGrid


def _round_up_div(dividend: int, divisor: int) -> int:
    return (dividend + divisor - 1) // divisor


def block_map(width: int, height: int, max_block_size: int) -> BlockMap:
    blocks_x = _round_up_div(width, max_block_size)
    blocks_y = _round_up_div(height, max_block_size)
    px = np.array([i * width // blocks_x for i in range(blocks_x + 1)], dtype=np.int64)
    py = np.array([i * height // blocks_y for i in range(blocks_y + 1)], dtype=np.int64)
    sx = np.empty(blocks_x + 2, dtype=np.int64)
    sy = np.empty(blocks_y + 2, dtype=np.int64)
    sx[0], sy[0] = 0, 0
    sx[1:-1] = (px[:-1] + px[1:]) // 2
    sy[1:-1] = (py[:-1] + py[1:]) // 2
    sx[-1], sy[-1] = width, height
    return BlockMap(width, height, BlockGrid(px, py), BlockGrid(sx, sy))
