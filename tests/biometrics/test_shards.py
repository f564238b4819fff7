"""The sharded gallery in-process (the embedded default, the same Shard class the Ray actors
wrap): merged rankings equal one exhaustive search, an enrollment touches one shard, the store
is sealed and bound to its place, and a shard that is behind reloads from the store."""
from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from biometrics.identifybench import moved
from biometrics.keys import BiometricKeyError, MasterKey
from biometrics.shards import IncompleteSearch, Shard, ShardAnswer, ShardedGallery, ShardError, ShardStore, best
from biometrics.sourceafis.loader import load_gallery
from biometrics.sourceafis.matcher import Matcher
from biometrics.sourceafis.template import Template, TemplateError
from tests.fingerprint_data import GOLDEN
from tests.waiting import limit


def _templates() -> tuple[list[bytes], list[bytes]]:
    folder = GOLDEN / "templates"
    real = [Template.from_cbor((folder / f"{f}_{i}.tif.cbor").read_bytes()) for f in range(101, 105) for i in (1, 2, 3)]
    rng = random.Random(7)
    members = [t.to_cbor() for t in real] + [moved(real[i % len(real)], rng).to_cbor() for i in range(90)]
    probes = [(folder / f"{f}_8.tif.cbor").read_bytes() for f in range(101, 105)]
    return members, probes


@pytest.fixture(scope="module")
def data():
    return _templates()


def _exhaustive(probe: bytes, members: list[tuple[int, bytes]], limit: int) -> list[tuple[int, float]]:
    scores = Matcher(Template.from_cbor(probe)).match_compact(load_gallery([t for _, t in members]))
    return best(np.array([m for m, _ in members], dtype=np.int64), scores, 0.0, limit)


def test_merged_shards_rank_as_one_exhaustive_search(tmp_path, data):
    members, probes = data
    master = MasterKey.generate()
    gallery = ShardedGallery.create(tmp_path / "store", 3, master, ray_address="")
    enrolled = [(1000 + i, t) for i, t in enumerate(members)]
    for first in range(0, len(enrolled), 17):
        gallery.enroll(enrolled[first:first + 17])
    assert sum(gallery.versions) == len(members) and min(gallery.versions) > 0
    for probe in probes:
        result = gallery.search(probe, 0.0, 12)
        assert [(m, s) for m, s, _ in result.hits] == _exhaustive(probe, enrolled, 12)
        assert result.versions == dict(enumerate(gallery.versions)) and result.retries == 0
    # Opened again from the sealed store (what a restarted actor does): the same answers.
    again = ShardedGallery(ShardStore(tmp_path / "store"), master, ray_address="")
    assert again.versions == gallery.versions
    assert again.search(probes[0], 0.0, 12) == gallery.search(probes[0], 0.0, 12)
    # Rank 1 of each probe is one of its finger's impressions (a real one or a moved copy).
    def finger(member: int) -> int:
        index = member - 1000
        return (index if index < 12 else (index - 12) % 12) // 3

    assert [finger(gallery.search(p, 0.0, 1).hits[0][0]) for p in probes] == [0, 1, 2, 3]


def test_an_enrollment_lands_in_one_shard_and_others_are_untouched(tmp_path, data):
    members, probes = data
    gallery = ShardedGallery.create(tmp_path / "store", 2, MasterKey.generate(), ray_address="")
    gallery.enroll([(i, members[i]) for i in range(40)], shard=0)
    gallery.enroll([(i, members[i]) for i in range(40, 80)], shard=1)
    untouched = gallery._shards[1]._segments
    target = gallery.enroll([(5000, probes[2])])
    assert target == 0 and gallery.versions == [41, 40]  # the smaller shard (the lower among equals)
    assert gallery._shards[1]._segments is untouched
    assert len(gallery._shards[0]._segments) == 2  # a new segment: the shard's gallery was not rebuilt
    assert gallery.search(probes[2], 0.0, 1).hits[0][:1] == (5000,)
    with pytest.raises(TemplateError):
        gallery.enroll([(5001, b"not a template")])
    assert gallery.versions == [41, 40]  # nothing stored for a malformed template


def test_the_store_is_sealed_and_bound_to_shard_and_position(tmp_path, data):
    members, _ = data
    master = MasterKey.generate()
    store = ShardStore(tmp_path / "store")
    store.create(2, master)
    store.append(0, 0, [(1, members[0]), (2, members[1])], store.data_key(0, master))
    raw = (tmp_path / "store" / "shard-0.log").read_bytes()
    assert members[0] not in raw and members[0][:40] not in raw
    with pytest.raises(BiometricKeyError):
        store.data_key(0, MasterKey.generate())  # another master key does not open the shard's key
    (tmp_path / "store" / "shard-1.log").write_bytes(raw)  # records copied onto another shard
    with pytest.raises(BiometricKeyError):
        store.read(1, store.data_key(1, master))
    # A torn last record (a crash mid-append) is not part of the shard.
    (tmp_path / "store" / "shard-0.log").write_bytes(raw[:-5])
    assert store.read(0, store.data_key(0, master))[0] == [1]
    with pytest.raises(ShardError):
        store.create(2, master)  # never over an existing store


def test_a_shard_skips_what_it_holds_and_reloads_over_a_gap(tmp_path, data):
    members, probes = data
    master = MasterKey.generate()
    store = ShardStore(tmp_path / "store")
    store.create(1, master)
    key = store.data_key(0, master)
    store.append(0, 0, [(0, members[0]), (1, members[1])], key)
    shard = Shard(0, str(store.folder), master.key)
    assert shard.info()["version"] == 2 and "key" not in repr(shard).lower()
    assert shard.add(0, [(0, members[0]), (1, members[1])]) == 2  # already loaded: skipped
    store.append(0, 2, [(2, members[2])], key)
    store.append(0, 3, [(3, members[3])], key)
    assert shard.add(3, [(3, members[3])]) == 4  # record 2 never reached it: reloaded from the store
    assert shard.info()["templates"] == 4


def test_the_merger_refuses_a_partial_or_stale_answer(tmp_path, data):
    members, _ = data
    gallery = ShardedGallery.create(tmp_path / "store", 2, MasterKey.generate(), ray_address="")
    gallery.enroll([(0, members[0])], shard=0)
    gallery.enroll([(1, members[1])], shard=1)
    complete = {0: ShardAnswer(0, 1, ((0, 10.0),)), 1: ShardAnswer(1, 1, ((1, 20.0),))}
    assert [h[0] for h in gallery._merge(complete, [1, 1], 5, 0).hits] == [1, 0]
    with pytest.raises(IncompleteSearch, match="no complete ranking"):
        gallery._merge({0: complete[0]}, [1, 1], 5, 0)
    with pytest.raises(IncompleteSearch, match="older gallery"):
        gallery._merge({0: complete[0], 1: ShardAnswer(1, 0, ())}, [1, 1], 5, 0)


def test_an_add_overtaken_by_another_reloads_without_deadlock(tmp_path, data, monkeypatch):
    members, _ = data
    master = MasterKey.generate()
    store = ShardStore(tmp_path / "store")
    store.create(1, master)
    key = store.data_key(0, master)
    store.append(0, 0, [(0, members[0])], key)
    shard = Shard(0, str(store.folder), master.key)
    store.append(0, 1, [(1, members[1]), (2, members[2])], key)
    import biometrics.shards as shards_module

    original = shards_module._gallery_of
    overtaken = []

    def building(templates):  # while this add builds its segment, another add lands record 1 only
        if len(templates) == 2 and not overtaken:
            overtaken.append(shard.add(1, [(1, members[1])]))
        return original(templates)

    monkeypatch.setattr(shards_module, "_gallery_of", building)
    answer = []
    worker = threading.Thread(target=lambda: answer.append(shard.add(1, [(1, members[1]), (2, members[2])])),
                              daemon=True)
    worker.start()
    worker.join(limit(60))
    assert not worker.is_alive(), "the add deadlocked"
    assert overtaken == [2] and answer == [3]  # behind what it was given: reloaded from the store
    assert shard.info()["templates"] == 3
