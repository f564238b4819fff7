"""The kernel cache guard: numba's cache index is emptied when a module the kernels depend on changes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from biometrics.sourceafis import jitcache

KERNEL = """
from numba import njit
from helper_{tag} import step

@njit(cache=True)
def kernel(x):
    return step(x)
"""
HELPER = """
from numba import njit

@njit(cache=True)
def step(x):
    return x + {increment}
"""


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_changed_dependency_empties_the_index_of_the_caller(tmp_path, monkeypatch):
    tag = tmp_path.name.replace("-", "_")
    monkeypatch.syspath_prepend(str(tmp_path))
    helper_path = tmp_path / f"helper_{tag}.py"
    kernel_path = tmp_path / f"kernel_{tag}.py"
    helper_path.write_text(HELPER.format(increment=1))
    kernel_path.write_text(KERNEL.format(tag=tag))
    helper = _import(f"helper_{tag}", helper_path)
    kernel = _import(f"kernel_{tag}", kernel_path)
    try:
        assert jitcache.refresh([kernel.kernel], [helper, kernel]) is True  # first stamp
        assert kernel.kernel(1) == 2
        index = Path(kernel.kernel._cache._cache_file._index_path)
        filled = index.stat().st_size
        assert jitcache.refresh([kernel.kernel], [helper, kernel]) is False  # unchanged sources
        assert index.stat().st_size == filled

        helper_path.write_text(HELPER.format(increment=100))
        helper = _import(f"helper_{tag}", helper_path)
        assert jitcache.refresh([kernel.kernel], [helper, kernel]) is True
        assert index.stat().st_size < filled  # the caller's stale entry is gone
    finally:
        sys.modules.pop(f"helper_{tag}", None)
        sys.modules.pop(f"kernel_{tag}", None)
