"""The fingerprint service's 1:N index: the enrolled prints in sharded galleries
(biometrics.shards), one gallery per (subject kind, template version), derived from the database.

The database stays the truth; the index is an encrypted copy of the enrolled templates that
a search can run on without decrypting the database's rows again.  It lives in
`<data>/identify/<kind>-<version>/` (ShardStore: each shard an append-only log of AES-GCM
sealed templates under a data key of the shard, wrapped by the service's current master key),
and its shards are `Shard` objects in this process (the embedded default) or Ray actors on
the cluster named by LOANCTL_RAY_ADDRESS: the same code either way.

Never a silently stale or partial answer:

- Before every search the gallery is reconciled by capture id with the database, inside the
  search's own reading: the enrolled captures of the kind and version are read (what the
  search must cover), the store's record heads are read again (another process on the same
  folder may have appended), and every enrolled capture the store lacks is decrypted from the
  database, sealed into the store and taken by its shard before the search starts.  So a crash
  between an enrollment's commit and its store append heals at the next search (and at start,
  when the service reconciles every gallery in the background); nothing in the enrollment path
  depends on the store.
- Members that are no longer enrolled (an impression retired by a newer one, a migrated
  template's old version) stay in the append-only store and are filtered out of the merged
  ranking: every candidate at or above the threshold is asked for (no top-k cut that dead
  members could crowd), then only the captures enrolled when the search began are kept.  When
  the dead outnumber the living (and are at least `REBUILD_DEAD`) the gallery is rebuilt from
  the database into a fresh store, so memory does not grow with re-enrollments.
- The merge itself is `ShardedGallery.search`: every shard must answer at the version committed
  when the search began (after the reconcile), an actor that died is asked again (Ray restarts
  it and it reloads its shard from the store) and a shard that still cannot answer makes the
  search fail with `IncompleteSearch`, which the service answers 503 `identify_incomplete`.
- A store that does not open (the master key was rotated, the shard count setting changed, a
  damaged file) is discarded and rebuilt from the database.

Secrets: templates are sealed at rest in the store; the master key reaches a shard only as an
argument in memory (Ray keeps actor arguments in the cluster's memory to restart it); probes
and templates are never logged; reprs name folders and counts only.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import tempfile
from pathlib import Path
from typing import Awaitable, Callable, Collection

from .keys import BiometricKeyError, MasterKey
from .shards import IncompleteSearch, ShardedGallery, ShardError, ShardStore, StoreReplaced

INDEX_FOLDER = "identify"
# Captures decrypted from the database and sealed into the store per step of a reconcile.
BATCH = 4096
# A gallery is rebuilt from the database when its dead members are at least this many and
# outnumber the living ones.
REBUILD_DEAD = 4096
# What each shard actor asks Ray for: two kinds of subject (customers, staff) each have a
# gallery of `shards` shards, so a cluster with one CPU per shard holds both.
CPUS_PER_SHARD = 0.5
log = logging.getLogger(__name__)

Fetch = Callable[[list[int]], Awaitable[dict[int, bytes]]]

__all__ = ["IdentifyIndex", "IncompleteSearch", "ShardError", "INDEX_FOLDER"]


class IdentifyIndex:
    """The service's sharded galleries, opened on first use.

    `folder` None keeps the store in a temporary folder removed at `close` (a service made
    without a data folder, as the tests and one-off commands make it)."""

    def __init__(self, folder: Path | str | None, master: MasterKey, *, shards: int = 1, ray_address: str = "",
                 cpus_per_shard: float = CPUS_PER_SHARD, rebuild_dead: int = REBUILD_DEAD) -> None:
        if shards < 1:
            raise ShardError("the index needs at least one shard")
        self._temporary = tempfile.TemporaryDirectory(prefix="loanctl-identify-") if folder is None else None
        self.folder = Path(self._temporary.name if self._temporary else folder)
        self._master = master
        self.shards = shards
        self.ray_address = ray_address
        self.cpus_per_shard = cpus_per_shard
        self.rebuild_dead = rebuild_dead
        self._galleries: dict[tuple[str, str], ShardedGallery] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._closed = False

    @classmethod
    def from_config(cls, config, master: MasterKey) -> "IdentifyIndex":
        """The deployment's index: `<data>/identify/`, LOANCTL_IDENTIFY_SHARDS shards per
        gallery, on the cluster at LOANCTL_RAY_ADDRESS (none: in this process)."""
        return cls(Path(config.data_dir) / INDEX_FOLDER, master, shards=config.identify_shards,
                   ray_address=config.ray_address)

    def __repr__(self) -> str:
        return f"IdentifyIndex({self.folder}, shards={self.shards}, ray={self.ray_address or 'in-process'})"

    def gallery_folder(self, kind: str, version: str) -> Path:
        # A version is free text inside templates: a safe name plus a digest keeps folders distinct.
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", version)[:40]
        return self.folder / f"{kind}-{safe}-{hashlib.sha256(version.encode()).hexdigest()[:8]}"

    def gallery(self, kind: str, version: str) -> ShardedGallery | None:
        """The gallery opened for the kind and version, if any (tests and `info` look at it)."""
        return self._galleries.get((kind, version))

    def _options(self) -> dict:
        return {"ray_address": self.ray_address, "cpus_per_shard": self.cpus_per_shard}

    def _open(self, kind: str, version: str) -> ShardedGallery:
        """Opens the gallery's store, or makes it (anew, when the existing one does not open with
        this master key or has another shard count: it is only derived data)."""
        store = ShardStore(self.gallery_folder(kind, version))
        store.folder.mkdir(parents=True, exist_ok=True)
        with store.locked():
            if store.shards():
                try:
                    if store.shards() == self.shards:
                        return ShardedGallery(store, self._master, **self._options())
                    reason = f"it has {store.shards()} shards, the setting {self.shards}"
                except (BiometricKeyError, ShardError, OSError) as error:
                    reason = type(error).__name__
                log.warning("rebuilding the identify index %s from the database (%s)", store.folder.name, reason)
            store.reset(self.shards, self._master)
        return ShardedGallery(store, self._master, **self._options())

    def _rebuild(self, kind: str, version: str, gallery: ShardedGallery) -> ShardedGallery:
        """The gallery's store made anew, empty (its dead members dropped): the reconcile then
        fills it from the database.  Other coordinators of the store see StoreReplaced."""
        gallery.close()
        store = ShardStore(self.gallery_folder(kind, version))
        with store.locked():
            store.reset(self.shards, self._master)
        return ShardedGallery(store, self._master, **self._options())

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def reconcile(self, kind: str, version: str, enrolled: Collection[int], fetch: Fetch) -> ShardedGallery:
        """Brings the gallery to cover every capture id in `enrolled`: what the store lacks is
        fetched (decrypted from the database by the caller), sealed into the store and taken by
        its shards, spread over them; a gallery mostly of dead members is rebuilt first."""
        key = (kind, version)
        async with self._lock(key):
            try:
                return await self._reconcile(key, enrolled, fetch)
            except StoreReplaced:  # rebuilt by another coordinator half-way: once more on the new store
                return await self._reconcile(key, enrolled, fetch)

    async def _reconcile(self, key: tuple[str, str], enrolled: Collection[int], fetch: Fetch) -> ShardedGallery:
        kind, version = key
        if self._closed:
            raise ShardError("the identify index is closed")
        gallery = self._galleries.get(key)
        if gallery is None:
            gallery = self._galleries[key] = await asyncio.to_thread(self._open, kind, version)
        try:
            await asyncio.to_thread(gallery.refresh)  # records other writers appended
        except StoreReplaced:  # another coordinator rebuilt it: open the new one
            await asyncio.to_thread(gallery.close)
            gallery = self._galleries[key] = await asyncio.to_thread(self._open, kind, version)
        dead = gallery.stored - sum(1 for member in enrolled if gallery.holds(member))
        if dead >= self.rebuild_dead and dead > len(enrolled):
            log.info("rebuilding the identify index of %s %s: %d of its %d members are no longer enrolled",
                     kind, version, dead, gallery.stored)
            gallery = self._galleries[key] = await asyncio.to_thread(self._rebuild, kind, version, gallery)
        missing = [member for member in sorted(enrolled) if not gallery.holds(member)]
        # Spread over the shards: each step goes to the smallest shard.
        step = max(1, min(BATCH, -(-len(missing) // self.shards)))
        for first in range(0, len(missing), step):
            if self._closed:  # the service stops: the next start carries on from the store
                raise ShardError("the identify index is closed")
            batch = missing[first:first + step]
            templates = await fetch(batch)
            members = [(member, templates[member]) for member in batch if member in templates]
            if members:
                await asyncio.to_thread(gallery.enroll, members)
        return gallery

    async def search(self, kind: str, version: str, probe: bytes, threshold: float, enrolled: Collection[int],
                     fetch: Fetch) -> list[tuple[int, float]]:
        """(capture id, score) of every capture in `enrolled` scoring at or above the threshold,
        best first (ties: lower capture id), over a gallery reconciled with `enrolled` first."""
        for attempt in range(3):
            gallery = await self.reconcile(kind, version, enrolled, fetch)
            try:
                result = await asyncio.to_thread(gallery.search, probe, threshold, None)
                break
            except ShardError:
                # A rebuild (here, or by another coordinator) closed the gallery under this
                # search: search the new one.  Otherwise the refusal stands.
                if self._galleries.get((kind, version)) is gallery or self._closed or attempt == 2:
                    raise
        live = enrolled if isinstance(enrolled, (set, frozenset, dict)) else set(enrolled)
        return [(member, score) for member, score, _ in result.hits if member in live]

    async def close(self) -> None:
        """Ends the shards (their actors on a cluster), after the reconcile under way, if any,
        has finished its step."""
        self._closed = True
        for lock in list(self._locks.values()):
            async with lock:
                pass
        galleries, self._galleries = list(self._galleries.values()), {}
        for gallery in galleries:
            await asyncio.to_thread(gallery.close)
        if self._temporary is not None:
            self._temporary.cleanup()

