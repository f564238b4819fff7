"""The engine's compiled code is cached outside the installed software (a read-only install works)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from biometrics.sourceafis import jitcache

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "biometrics"

COMPILE_ONE = """
import numpy as np
from biometrics.sourceafis.votefilter import integral_image
print(int(integral_image(np.ones((3, 4), dtype=np.bool_))[-1, -1]))
"""


def _cached_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")}


def test_compiled_code_goes_to_the_chosen_cache_never_into_the_package(tmp_path):
    before = _cached_files(PACKAGE)
    cache = tmp_path / "jit"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(LOANCTL_JIT_CACHE=str(cache), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", COMPILE_ONE], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "12"
    assert any(p.name.startswith("votefilter.integral_image") and p.suffix == ".nbc" for p in _cached_files(cache))
    assert _cached_files(PACKAGE) == before


def test_the_user_cache_directory_is_the_default_and_an_unwritable_one_falls_back(tmp_path):
    home = tmp_path / "cache-home"
    folder = jitcache.cache_directory({"XDG_CACHE_HOME": str(home)})
    assert folder.is_dir() and folder.is_relative_to(home / "loanctl" / "numba")
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    fallback = jitcache.cache_directory({"LOANCTL_JIT_CACHE": str(blocked / "jit")})
    assert fallback.is_dir() and not fallback.is_relative_to(blocked)
