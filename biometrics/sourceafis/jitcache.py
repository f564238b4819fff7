"""Keeping numba's on-disk cache of the matcher kernels consistent with their sources.

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
