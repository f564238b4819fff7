"""The 1:N gallery split into shards: in this process, or held by actors on a Ray cluster.

One code path: `Shard` holds the compact gallery of its part of the enrolled templates and
answers searches; `ShardedGallery` fans a probe out to every shard and merges their best
candidates.  Without a cluster address (LOANCTL_RAY_ADDRESS) the shards are plain `Shard`
objects in this process; with one, each is the same class wrapped as a Ray actor
(`ray.remote(Shard)`), restarted by Ray when it dies.

Templates stay encrypted at rest: `ShardStore` keeps each shard's templates in an append-only
log of AES-GCM sealed records under a data key of that shard, the data key wrapped by the
master key.  Coordinators write the store under its lock (an flock in its folder), each first
reading the record heads others appended, so two coordinators on one folder never write one
position; a `reset` (a rebuild) gives the store a new generation, and a coordinator of the
old one gets `StoreReplaced`.  A shard reads the store when it starts or restarts, so an
actor that died comes back with every template committed before it died, and `sync` reads
the records appended since (an enrollment's templates reach an actor only through the sealed
store, never as call arguments).  The master key reaches a shard only in memory, as an
argument of its creation (Ray keeps actor arguments in the cluster's memory to restart it);
it is never logged or written.  The service's use of all this, reconciled with its database,
is biometrics.identifyindex.

Completeness: every shard answer carries its shard id and the gallery version it searched
(the number of its store's records it held).  The merger checks that every shard answered,
each at least at the version committed when the search began; a shard whose actor died is
asked again (Ray restarts it from the store) and a shard that still cannot answer makes the
whole search fail with `IncompleteSearch`, never a silently partial ranking.
"""
from __future__ import annotations

import fcntl
import os
import resource
import socket
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import modes
from .keys import MasterKey, new_data_key, open_sealed, seal
from .sourceafis.compact import CompactGallery
from .sourceafis.template import Template
from .sourceafis.matcher import Matcher

RAY_ADDRESS_SETTING = "LOANCTL_RAY_ADDRESS"
# Small enrollments are kept as their own segments and folded into one after this many, so a
# new template never rebuilds a shard's gallery and the segment list stays short.
_MAX_SEGMENTS = 32
_RECORD_HEAD = struct.Struct(">QI")  # member id, sealed length


def _gallery_of(templates: Sequence[bytes]):
    """The compact gallery of a shard's templates, in their mode (a shard's store holds templates
    of one version: the accuracy mode's gallery keeps both its minutia sets)."""
    mode = modes.mode_of(modes.template_version(templates[0])) if templates else "exact"
    return modes.gallery(mode, templates)


class ShardError(Exception):
    """The sharded gallery cannot do what was asked."""


class StoreReplaced(ShardError):
    """The store was made anew (rebuilt) by another coordinator: open it again."""


class IncompleteSearch(ShardError):
    """A shard did not answer (after retries): the search has no complete answer."""


@dataclass(frozen=True)
class ShardAnswer:
    shard: int
    version: int  # the records of the shard's store this answer covers
    hits: tuple[tuple[int, float], ...]  # (member id, score), best first
    cpu_seconds: float = field(default=0.0, compare=False)  # the search's CPU time in the shard (a load-independent figure)


@dataclass(frozen=True)
class SearchResult:
    hits: list[tuple[int, float, int]]  # (member id, score, shard), best first; ties: lower member id
    versions: dict[int, int]  # shard -> version searched
    retries: int  # shard requests that had to be sent again
    cpu_seconds: dict[int, float] = field(default_factory=dict, compare=False)  # shard -> its search's CPU time


# --- the encrypted store ------------------------------------------------------------------


@contextmanager
def folder_lock(folder: Path):
    """An exclusive flock on `lock` in the folder (between processes, and between threads or
    objects of one process: each holder opens the file itself)."""
    with open(Path(folder) / "lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ShardStore:
    """Each shard's templates, sealed, in an append-only log (`shard-N.log`), with its data key
    wrapped by the master key (`shard-N.key`).  A record is the member id, the sealed length and
    the sealed template; its associated data binds it to its shard, position and member, so a
    record moved or copied elsewhere does not open.  The folder must be reachable from every
    node (one machine here; a shared volume on a real cluster)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _log(self, shard: int) -> Path:
        return self.folder / f"shard-{shard}.log"

    def _key_file(self, shard: int) -> Path:
        return self.folder / f"shard-{shard}.key"

    @staticmethod
    def _context(shard: int, index: int, member: int) -> str:
        return f"gallery-template:{shard}:{index}:{member}"

    def create(self, shards: int, master: MasterKey) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for shard in range(shards):
            if self._key_file(shard).exists():
                raise ShardError(f"{self.folder} already holds shard {shard}")
            self._key_file(shard).write_bytes(master.wrap(new_data_key(), f"shard:{shard}"))
            self._log(shard).touch()
        self._new_generation()

    def reset(self, shards: int, master: MasterKey) -> None:
        """Makes the store anew in its folder, empty, with new data keys and a new generation (a
        rebuild; call under `locked`): coordinators of the old one see `StoreReplaced`."""
        for path in self.folder.glob("shard-*"):
            path.unlink()
        self.create(shards, master)

    def _new_generation(self) -> None:
        staged = self.folder / "generation.new"
        staged.write_text(os.urandom(16).hex())
        os.replace(staged, self.folder / "generation")

    def generation(self) -> str:
        """The store's generation (new at each `create` or `reset`; empty for an older store)."""
        try:
            return (self.folder / "generation").read_text()
        except FileNotFoundError:
            return ""

    def shards(self) -> int:
        return len(list(self.folder.glob("shard-*.key")))

    def data_key(self, shard: int, master: MasterKey) -> bytes:
        return master.unwrap(self._key_file(shard).read_bytes(), f"shard:{shard}")

    def locked(self):
        """The store's writer lock: held while records are appended, so two coordinators on one
        folder (two processes, or two services in one) never write the same record position."""
        return folder_lock(self.folder)

    def append(self, shard: int, first_index: int, members: Sequence[tuple[int, bytes]], data_key: bytes,
               offset: int | None = None) -> int:
        """Seals and appends templates as records first_index, first_index+1, …; durable on
        return.  Returns the log's length after the append.  A torn last record of an earlier
        crash is cut off first, so the new records follow the last whole one (`offset`: where
        that one ends, when the caller knows; else the log is scanned)."""
        parts = []
        for index, (member, template) in enumerate(members):
            sealed = seal(data_key, template, self._context(shard, first_index + index, member))
            parts.append(_RECORD_HEAD.pack(member, len(sealed)) + sealed)
        with open(self._log(shard), "r+b") as out:
            end = self.members(shard)[1] if offset is None else offset
            out.truncate(end)
            out.seek(end)
            out.write(b"".join(parts))
            out.flush()
            os.fsync(out.fileno())
            return out.tell()

    def members(self, shard: int, offset: int = 0) -> tuple[list[int], int]:
        """The member ids of the records from byte `offset` (a record's start) on, read from the
        record heads alone (nothing is decrypted), and the end of the last whole record."""
        members = []
        with open(self._log(shard), "rb") as log:
            size = os.fstat(log.fileno()).st_size
            position = offset
            while position + _RECORD_HEAD.size <= size:
                log.seek(position)
                member, length = _RECORD_HEAD.unpack(log.read(_RECORD_HEAD.size))
                if position + _RECORD_HEAD.size + length > size:
                    break
                members.append(member)
                position += _RECORD_HEAD.size + length
        return members, position

    def read(self, shard: int, data_key: bytes, start: int = 0, offset: int = 0) -> tuple[list[int], list[bytes]]:
        """The records of the shard from record `start` (at byte `offset`: 0 for the first, or
        the end `read_from` returned) on, opened: (member ids, CBOR templates), in order.  A
        torn last record (a crash during an append) is not part of the shard."""
        members, templates, _ = self.read_from(shard, data_key, start, offset)
        return members, templates

    def read_from(self, shard: int, data_key: bytes, start: int = 0,
                  offset: int = 0) -> tuple[list[int], list[bytes], int]:
        """`read`, and the byte end of the last whole record (where the next read starts)."""
        with open(self._log(shard), "rb") as log:
            log.seek(offset)
            data = log.read()
        members, templates = [], []
        position = 0
        while position + _RECORD_HEAD.size <= len(data):
            member, size = _RECORD_HEAD.unpack_from(data, position)
            begin = position + _RECORD_HEAD.size
            if begin + size > len(data):
                break
            templates.append(open_sealed(data_key, data[begin:begin + size],
                                         self._context(shard, start + len(members), member)))
            members.append(member)
            position = begin + size
        return members, templates, offset + position


# --- one shard -----------------------------------------------------------------------------


class Shard:
    """One shard's gallery in memory, loaded from the store (the class a Ray actor wraps).

    Searches may run while an enrollment is added (a Ray actor runs two calls at once): a
    search takes the segment list as it stands when it starts, and its answer names that
    version."""

    def __init__(self, shard: int, store: str, master_key: bytes) -> None:
        self.shard = shard
        self._store = ShardStore(store)
        # The key opens this shard's data key and is then dropped; neither is logged.
        self._data_key = self._store.data_key(shard, MasterKey(master_key))
        self._lock = threading.Lock()
        self._segments: list[tuple[np.ndarray, CompactGallery]] = []
        self._version = 0
        self._load_cpu_seconds = 0.0  # the last reload's CPU time (read, open, build): a load-rate figure
        self._offset: int | None = 0  # the store's byte end of what the shard holds (None: unknown)
        self._searching = 0  # searches under way (info reports it, so a test can act mid-search)
        self.reload()

    def __repr__(self) -> str:  # no key material in logs or error messages
        return f"Shard({self.shard}, version={self._version})"

    def reload(self) -> int:
        """Reads the whole shard again from the store; returns the version."""
        started = time.thread_time()
        members, templates, end = self._store.read_from(self.shard, self._data_key)
        gallery = _gallery_of(templates)
        del templates
        with self._lock:
            self._segments = [(np.array(members, dtype=np.int64), gallery)] if members else []
            self._version = len(members)
            self._load_cpu_seconds = time.thread_time() - started
            self._offset = end
        return self._version

    def sync(self) -> int:
        """Takes the records the store gained since this shard read it (sealed there by the
        coordinator, so templates reach an actor only through the store and its key) as one new
        segment; returns the version.  The shard's gallery is not rebuilt."""
        with self._lock:
            version, offset = self._version, self._offset
        if offset is None:
            return self.reload()
        members, templates, end = self._store.read_from(self.shard, self._data_key, version, offset)
        if not members:
            return version
        gallery = _gallery_of(templates)
        ids = np.array(members, dtype=np.int64)
        with self._lock:
            if (self._version, self._offset) != (version, offset):
                current = self._version
            else:
                self._add_segment(ids, gallery)
                self._version, self._offset = version + len(members), end
                return self._version
        # Another sync or a reload ran meanwhile.
        return current if current >= version + len(members) else self.reload()

    def _add_segment(self, ids: np.ndarray, gallery: CompactGallery) -> None:
        segments = self._segments + [(ids, gallery)]
        if len(segments) > _MAX_SEGMENTS:
            tail = segments[1:]
            segments = [segments[0], (np.concatenate([s[0] for s in tail]),
                                      type(tail[0][1]).concatenate([s[1] for s in tail]))]
        self._segments = segments

    def info(self) -> dict:
        """Where the shard runs and what it holds (the process id lets a test end it)."""
        node = ""
        try:
            import ray

            if ray.is_initialized():
                node = ray.get_runtime_context().get_node_id()
        except ImportError:
            pass
        return {"shard": self.shard, "version": self._version, "pid": os.getpid(), "node": node,
                "templates": sum(len(g) for _, g in self._segments), "searching": self._searching,
                "load_cpu_seconds": self._load_cpu_seconds,
                # The process's peak resident memory (Linux reports KiB): what holding the shard costs.
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}

    def warm(self, probe: bytes) -> int:
        """Compiles (or loads from numba's cache) the search kernel on a few candidates, so the
        first real search is not slowed by it; returns how many were scored."""
        with self._lock:
            segments = self._segments
        if not segments:
            return 0
        gallery = segments[0][1]
        if isinstance(gallery, CompactGallery):
            return len(Matcher(Template.from_cbor(probe)).match_compact(gallery, 0, min(10, len(gallery))))
        return len(modes.matcher(modes.mode_of(modes.template_version(probe)), probe).match_compact(gallery))

    def add(self, first_index: int, members: Sequence[tuple[int, bytes]]) -> int:
        """Records first_index… (already in the store) join the gallery as a new segment; records
        this shard already holds (it reloaded after they were written) are skipped, and a gap
        (records it never saw) makes it reload from the store.  Returns the version."""
        with self._lock:
            version = self._version
        if first_index > version:
            return self.reload()
        fresh = list(members)[version - first_index:]
        if not fresh:
            return version
        gallery = _gallery_of([template for _, template in fresh])
        ids = np.array([member for member, _ in fresh], dtype=np.int64)
        with self._lock:
            current = self._version
            if current == version:
                self._add_segment(ids, gallery)
                self._version = version + len(fresh)
                self._offset = None  # given the records, not read: the next sync reads the store again
                return self._version
        # Another add or a reload ran meanwhile (the lock is not held here: reload takes it).
        return self.reload() if current < first_index + len(members) else current

    def search(self, probe: bytes, threshold: float, limit: int | None) -> ShardAnswer:
        """The shard's best `limit` candidates (None: all) at or above the threshold, best first
        (ties: lower member id first).  The probe is read in its own mode (a gallery holds one
        template version: the caller keeps one gallery per version)."""
        with self._lock:
            segments, version = self._segments, self._version
            self._searching += 1
        started = time.thread_time()
        try:
            matcher = modes.matcher(modes.mode_of(modes.template_version(probe)), probe)
            if not segments:
                return ShardAnswer(self.shard, version, ())
            scores = np.concatenate([matcher.match_compact(gallery) for _, gallery in segments])
            ids = np.concatenate([members for members, _ in segments])
            return ShardAnswer(self.shard, version, tuple(best(ids, scores, threshold, limit)),
                               time.thread_time() - started)
        finally:
            with self._lock:
                self._searching -= 1


def best(ids: np.ndarray, scores: np.ndarray, threshold: float, limit: int | None) -> list[tuple[int, float]]:
    """(member id, score) at or above the threshold, best first, ties by lower member id."""
    hits = np.flatnonzero(scores >= threshold)
    order = hits[np.lexsort((ids[hits], -scores[hits]))][:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]


# --- the coordinator -----------------------------------------------------------------------


class ShardedGallery:
    """Enrolls into and searches a gallery of `shards` shards, in-process or on a Ray cluster.

    Create it on an empty store with `create`, or `open` an existing store.  With
    `ray_address` (default: the LOANCTL_RAY_ADDRESS setting), each shard is a Ray actor
    spread over the cluster's nodes, restarted up to `max_restarts` times."""

    def __init__(self, store: ShardStore, master: MasterKey, *, ray_address: str | None = None,
                 max_restarts: int = 3, attempts: int = 3, timeout: float = 600.0,
                 cpus_per_shard: float = 1.0) -> None:
        self.store = store
        self._master = master
        self._count = store.shards()
        if self._count < 1:
            raise ShardError(f"{store.folder} holds no shards")
        self._generation = store.generation()
        self._data_keys = [store.data_key(s, master) for s in range(self._count)]
        self.ray_address = os.environ.get(RAY_ADDRESS_SETTING, "") if ray_address is None else ray_address
        self.attempts = attempts
        self.timeout = timeout
        self._write = threading.Lock()
        self._versions: list[int] = []
        self._sizes: list[int] = []
        # What the store holds, from its record heads: member ids by shard, and each log's end.
        self._members: list[list[int]] = [[] for _ in range(self._count)]
        self._held: set[int] = set()
        self._offsets = [0] * self._count
        if self.ray_address:
            self._ray = _connect(self.ray_address)
            actor = self._ray.remote(max_restarts=max_restarts, max_task_retries=0, max_concurrency=2,
                                     num_cpus=cpus_per_shard, scheduling_strategy="SPREAD")(Shard)
            self._shards = [actor.remote(s, str(store.folder), master.key) for s in range(self._count)]
            try:
                infos = self._ray.get([h.info.remote() for h in self._shards], timeout=timeout)
            except (self._ray.exceptions.GetTimeoutError, self._ray.exceptions.RayActorError) as error:
                self.close()
                raise ShardError(f"the shards of {store.folder} did not start on the cluster "
                                 f"({type(error).__name__})") from None
        else:
            self._ray = None
            self._shards = [Shard(s, str(store.folder), master.key) for s in range(self._count)]
            infos = [s.info() for s in self._shards]
        self._versions = [i["version"] for i in infos]
        self._sizes = list(self._versions)
        self._read_heads()

    def __repr__(self) -> str:
        return f"ShardedGallery({self.store.folder}, shards={self._count}, ray={self.ray_address or 'in-process'})"

    @classmethod
    def create(cls, folder: Path | str, shards: int, master: MasterKey, **options) -> "ShardedGallery":
        store = ShardStore(folder)
        store.create(shards, master)
        return cls(store, master, **options)

    @property
    def shard_count(self) -> int:
        return self._count

    @property
    def versions(self) -> list[int]:
        return list(self._versions)

    def __len__(self) -> int:
        return sum(self._versions)

    def info(self) -> list[dict]:
        """Each shard's info (its process and node on a cluster)."""
        return [self._call(s, "info") for s in range(self._count)]

    def warm(self, probe: bytes) -> None:
        """Every shard's search kernel compiled before the first search (see Shard.warm)."""
        for s in range(self._count):
            self._call(s, "warm", probe)

    def holds(self, member: int) -> bool:
        """Whether the store holds the member (as this coordinator last read it)."""
        return member in self._held

    @property
    def stored(self) -> int:
        """The records of the store, over all shards (as this coordinator last read it)."""
        return sum(self._sizes)

    def members(self) -> dict[int, int]:
        """Every member the store holds (as this coordinator last read it), with its shard."""
        return {member: s for s in range(self._count) for member in self._members[s]}

    def _read_heads(self) -> list[int]:
        """Reads the record heads other writers appended since the last look (another process on
        the same folder); returns the shards that grew.  Call under the store's lock."""
        if self.store.generation() != self._generation:
            raise StoreReplaced(f"{self.store.folder} was rebuilt by another coordinator")
        grown = []
        for s in range(self._count):
            fresh, end = self.store.members(s, self._offsets[s])
            if fresh:
                self._members[s].extend(fresh)
                self._held.update(fresh)
                grown.append(s)
            self._offsets[s] = end
            self._sizes[s] = len(self._members[s])
        return grown

    def refresh(self) -> None:
        """Brings every shard up to what the store holds, records other coordinators wrote
        included: each shard that is behind reads the records it lacks from the store."""
        with self._write, self.store.locked():
            self._read_heads()
            for s in range(self._count):
                if self._versions[s] < self._sizes[s]:
                    self._versions[s] = max(self._versions[s], self._call(s, "sync"))

    def shard_of(self, member: int) -> int:
        """The shard a new member joins: the smallest (the lowest number among equals)."""
        return min(range(self._count), key=lambda s: (self._sizes[s], s))

    def enroll(self, members: Iterable[tuple[int, bytes]], shard: int | None = None) -> int:
        """New templates (member id, CBOR) join one shard, the smallest unless given: sealed into
        its store first, then added to its gallery (no other shard is touched).  Returns the shard."""
        members = list(members)
        if not members:
            raise ShardError("nothing to enroll")
        # A malformed template, or one of another version than the rest, is refused before
        # anything is stored (a gallery holds one template version).
        mode = modes.mode_of(modes.template_version(members[0][1]))
        modes.check_versions(mode, [template for _, template in members])
        read = modes.reader(mode)
        for _, template in members:
            read(template)
        with self._write, self.store.locked():
            self._read_heads()  # positions follow what any writer appended before
            target = self.shard_of(members[0][0]) if shard is None else shard
            if not 0 <= target < self._count:
                raise ShardError(f"no shard {target}")
            first = self._sizes[target]
            self._offsets[target] = self.store.append(target, first, members, self._data_keys[target],
                                                      self._offsets[target])
            self._members[target].extend(member for member, _ in members)
            self._held.update(member for member, _ in members)
            self._sizes[target] = first + len(members)
            # Committed in the store: a shard that dies now reloads it.  The shard reads the new
            # records from the store itself (templates never travel to an actor in the clear).
            for s in range(self._count):
                if self._versions[s] < self._sizes[s]:
                    self._versions[s] = max(self._versions[s], self._call(s, "sync"))
        return target

    def search(self, probe: bytes, threshold: float = 0.0, limit: int | None = 10) -> SearchResult:
        """Every shard's best candidates, merged: the best `limit` over the whole gallery (None:
        every candidate at or above the threshold)."""
        if limit is not None and limit < 1:
            raise ShardError("limit must be at least 1")
        expected = list(self._versions)
        answers: dict[int, ShardAnswer] = {}
        retries = 0
        handles = self._shards  # `close` puts an empty list in its place: this search keeps its own
        if not handles:
            raise ShardError(f"{self!r} is closed")
        if self._ray is None:
            for s, shard in enumerate(handles):
                answers[s] = shard.search(probe, threshold, limit)
        else:
            pending = {s: handles[s].search.remote(probe, threshold, limit) for s in range(self._count)}
            failures: dict[int, list[str]] = {}
            deadline = time.monotonic() + self.timeout
            while pending:
                for s, ref in list(pending.items()):
                    try:
                        answer = self._ray.get(ref, timeout=max(deadline - time.monotonic(), 0.001))
                    except self._ray.exceptions.GetTimeoutError:
                        raise IncompleteSearch(f"shard {s} did not answer within {self.timeout:g} s") from None
                    except self._ray.exceptions.RayActorError as error:
                        if not self._again(error, failures.setdefault(s, []), deadline):
                            raise IncompleteSearch(
                                f"shard {s} did not answer after {len(failures[s])} attempts "
                                f"({', '.join(failures[s])}): no complete ranking") from None
                        retries += 1
                        pending[s] = handles[s].search.remote(probe, threshold, limit)
                        continue
                    answers[s] = answer
                    del pending[s]
        return self._merge(answers, expected, limit, retries)

    def _merge(self, answers: dict[int, ShardAnswer], expected: list[int], limit: int | None,
               retries: int) -> SearchResult:
        if sorted(answers) != list(range(self._count)) or any(a.shard != s for s, a in answers.items()):
            raise IncompleteSearch(f"answers from shards {sorted(answers)} of {self._count}: no complete ranking")
        stale = [s for s, a in answers.items() if a.version < expected[s]]
        if stale:
            raise IncompleteSearch(f"shards {stale} answered from an older gallery than was committed")
        hits = [(member, score, s) for s, a in answers.items() for member, score in a.hits]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return SearchResult(hits[:limit], {s: a.version for s, a in answers.items()}, retries,
                            {s: a.cpu_seconds for s, a in answers.items()})

    def _call(self, shard: int, method: str, *args):
        if self._ray is None:
            return getattr(self._shards[shard], method)(*args)
        failures: list[str] = []
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._ray.get(getattr(self._shards[shard], method).remote(*args),
                                     timeout=max(deadline - time.monotonic(), 0.001))
            except self._ray.exceptions.GetTimeoutError:
                raise ShardError(f"shard {shard} did not answer {method} within {self.timeout:g} s") from None
            except self._ray.exceptions.RayActorError as error:
                if not self._again(error, failures, deadline):
                    raise ShardError(f"shard {shard} did not answer {method} after {len(failures)} attempts "
                                     f"({', '.join(failures)})") from None

    def _again(self, error: Exception, failures: list[str], deadline: float) -> bool:
        """Whether to ask a shard again after this actor error.  An actor being restarted
        (ActorUnavailableError) is waited for, with growing pauses, until the deadline; a dead
        one is asked again up to `attempts` times in all (Ray may restart it meanwhile)."""
        failures.append(type(error).__name__)
        if isinstance(error, self._ray.exceptions.ActorUnavailableError):
            waited = failures.count("ActorUnavailableError")
            pause = min(0.05 * 2 ** min(waited, 5), 1.0)
            if time.monotonic() + pause >= deadline:
                return False
            time.sleep(pause)
            return True
        return sum(f != "ActorUnavailableError" for f in failures) < self.attempts

    def close(self) -> None:
        """Ends the shards' actors (the cluster itself is left running)."""
        if self._ray is not None:
            for handle in self._shards:
                self._ray.kill(handle, no_restart=True)
        self._shards = []


def _connect(address: str):
    try:
        import ray
    except ImportError:
        raise ShardError("shards on a Ray cluster need the `ray` package: pip install 'loan-acceptance-suite[cluster]'") from None
    if not ray.is_initialized():
        # A quick look first: ray.init waits a long time for a cluster that is not there.
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except (OSError, ValueError) as error:
            raise ShardError(f"cannot reach the Ray cluster at {address}: {error}") from None
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise ShardError(f"cannot reach the Ray cluster at {address}: {error}") from None
    return ray
