"""numba's on-disk cache of the engine: where it lives, and keeping it consistent with the sources.

Where: numba writes its cache next to the source by default (`__pycache__` inside the
installed package), which fails on a read-only install and writes into the software's own
tree. `configure()` sends it to the user's cache directory instead
(`$XDG_CACHE_HOME/loanctl/numba`, else `~/.cache/loanctl/numba`) or to `$LOANCTL_JIT_CACHE`;
when neither can be written, to a private folder under the temporary directory. It runs before
the first `@njit(cache=True)` function is defined (the package's `__init__`).

Consistency:
numba checks a cached kernel only against the file that defines it; a kernel
that calls (and so compiles in) functions from other modules keeps its old
machine code when only those modules change.  For a matcher whose scores must
equal the original's, stale code is a silent wrong answer, so the matcher
stamps its cache with a digest of every module its kernels are built from and
empties the cache indexes when the digest changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Iterable

log = logging.getLogger(__name__)

STAMP_NAME = "sourceafis-kernels.sha256"


def sources_digest(modules: Iterable[ModuleType]) -> str:
    digest = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode())
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def refresh(dispatchers: Iterable[object], modules: Iterable[ModuleType]) -> bool:
    """Empties the cache indexes of the dispatchers if the module sources changed; True if it did.

    Uses numba's cache object of each dispatcher; where caching is off or the
    cache folder is not writable, there is nothing stale to remove.
    """
    dispatchers = list(dispatchers)
    try:
        caches = [d._cache for d in dispatchers]  # numba's per-dispatcher FunctionCache
        folders = {Path(c._cache_path) for c in caches}
    except AttributeError:
        return False
    digest = sources_digest(modules)
    refreshed = False
    for folder in folders:
        stamp = folder / STAMP_NAME
        try:
            if stamp.is_file() and stamp.read_text().strip() == digest:
                continue
            for cache in caches:
                if Path(cache._cache_path) == folder:
                    cache.flush()
            folder.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest + "\n")
            refreshed = True
        except OSError as error:
            log.warning("cannot refresh the numba cache in %s: %s", folder, error)
    return refreshed


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def cache_directory(env: dict[str, str] | None = None) -> Path:
    """The folder this process compiles into (created if missing)."""
    env = os.environ if env is None else env
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    if env.get("LOANCTL_JIT_CACHE"):
        preferred = Path(env["LOANCTL_JIT_CACHE"])
    else:
        base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
        preferred = base / "loanctl" / "numba" / version
    if _writable(preferred):
        return preferred
    fallback = Path(tempfile.gettempdir()) / f"loanctl-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / version
    fallback.mkdir(parents=True, exist_ok=True, mode=0o700)
    return fallback


def configure() -> Path:
    """Point numba's cache at `cache_directory()`, unless NUMBA_CACHE_DIR is set already."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    folder = cache_directory()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # imported before us: numba read its settings already
        from numba.core import config

        config.CACHE_DIR = str(folder)
    return folder


def is_warm() -> bool:
    """Whether compiled code is already cached (the first start compiles for a while)."""
    folder = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_directory())
    return folder.is_dir() and any(folder.rglob("*.nbc"))
