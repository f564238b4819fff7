"""The service's 1:N search on the sharded index (biometrics.identifyindex), in-process shards
(the embedded default; tests/biometrics_cluster/ runs the same on a Ray cluster): the same
candidates and scores as the chunked search of the enrolled prints it replaced, on SQLite and
PostgreSQL; the index is derived from the database and heals from it (a store behind the
database, torn or deleted, another writer on the same folder, a gallery mostly of retired
prints); a search that cannot cover every print is a 503, never a partial ranking."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select, update

from biometrics import modes
from biometrics.app import RUNTIME
from biometrics.engine import CHUNK_SIZE, MatchingPool
from biometrics.identifyindex import IdentifyIndex
from biometrics.keyring import Keyring
from biometrics.service import BiometricService, Settings, Subject
from biometrics.shards import IncompleteSearch, ShardedGallery, ShardError, ShardStore
from biometrics.tables import Capture
from core.config import Config, ConfigError
from core.db import Database
from tests.loans.walk import capture_of
from tests.suite import suite_config

from .prints import b64, fvc_bytes
from .serving import serve

FINGERS = range(101, 111)
LOW_THRESHOLD = 0.01  # nearly every print a candidate: the rankings are compared in full, ties included


@pytest.fixture
async def sharded(tmp_path, database_url):
    config = suite_config(tmp_path, database_url, identify_shards=3, fingerprint_threshold=LOW_THRESHOLD)
    client = await serve(config)
    yield client
    await client.close()


async def chunked(service: BiometricService, template: bytes, kind: str = "customer") -> list[dict]:
    """The search the service ran before the index: every enrolled print of the probe's version,
    decrypted, in compact chunks of CHUNK_SIZE by capture id, ranked by the engine in the pool."""
    version = modes.template_version(template)
    async with service.db.unit_of_work(write=False) as session:
        captures = list((await session.execute(select(Capture).where(
            Capture.subject_kind == kind, Capture.enrolled, Capture.template_version == version)
            .order_by(Capture.id))).scalars())
        templates = await service.templates_of(session, captures)
    rows = [c for c in captures if c.id in templates]
    chunks = [await service.pool.compact_chunk([templates[c.id] for c in rows[i:i + CHUNK_SIZE]])
              for i in range(0, len(rows), CHUNK_SIZE)]
    ranked = await service.pool.identify_compact(template, chunks, service.settings.threshold)
    return [{"subject": f"{rows[i].subject_kind}:{rows[i].subject_id}", "capture_id": rows[i].id,
             "finger": rows[i].finger, "loan_id": rows[i].loan_id, "score": round(s, 3),
             "template_version": version} for i, s in ranked]


async def _enroll_fingers(client, impressions=(1, 2, 3, 5)) -> list[int]:
    """Customer n enrolls finger 1 from FVC finger 100+n, impression after impression: the
    fourth retires the first (three are kept), so the index holds prints no longer enrolled."""
    ids = []
    for impression in impressions:
        for number, finger in enumerate(FINGERS, start=1):
            done = await client.call("POST", "/enroll", {"subject": f"customer:{number}", "finger": 1,
                                                         "image_base64": b64(fvc_bytes(f"{finger}_{impression}"))},
                                     scope="enroll", expect=201)
            ids.append(done["capture_id"])
    return ids


async def test_identify_on_shards_answers_as_the_chunked_search(sharded):
    service = sharded.service
    await _enroll_fingers(sharded, (1, 2, 3))
    await sharded.call("POST", "/identify", {"image_base64": b64(fvc_bytes("102_6"))}, scope="identify")
    await _enroll_fingers(sharded, (5,))  # retires impression 1 of every finger, which the index holds
    for probe in ("101_6", "104_6", "107_8", "110_7"):
        found = await sharded.call("POST", "/identify", {"image_base64": b64(fvc_bytes(probe))}, scope="identify")
        template = (await service.pool.analyse(fvc_bytes(probe), 500.0)).template
        expected = await chunked(service, template)
        assert len(expected) > 5 and found["candidates"] == expected
        assert found["candidates"][0]["subject"] == f"customer:{int(probe[:3]) - 100}"
    gallery = service.index.gallery("customer", service.settings.version)
    assert gallery.shard_count == 3 and min(gallery.versions) > 0  # spread over the three shards
    assert gallery.stored == 40 and len(gallery) == 40  # the ten retired prints stay in the store…
    retired = await chunked(service, (await service.pool.analyse(fvc_bytes("101_1"), 500.0)).template)
    assert all(c["capture_id"] > 10 for c in retired)  # …and are never a candidate
    # The duplicate search at enrollment: the same ranking without the enrolling subject.
    duplicate = await sharded.call("POST", "/enroll", {"subject": "customer:3", "finger": 2, "search_duplicates": True,
                                                       "image_base64": b64(fvc_bytes("105_8"))},
                                   scope="enroll", expect=201)
    template = (await service.pool.analyse(fvc_bytes("105_8"), 500.0)).template
    expected = [c for c in await chunked(service, template) if c["subject"] != "customer:3"]
    assert duplicate["duplicates"] == expected and duplicate["duplicates"][0]["subject"] == "customer:5"


async def test_the_index_heals_from_the_database_at_start_and_at_the_next_search(tmp_path, database_url):
    config = suite_config(tmp_path, database_url, identify_shards=2)
    first = await serve(config)
    ids = await _enroll_fingers(first, impressions=(1, 2))
    await first.call("POST", "/identify", {"image_base64": b64(fvc_bytes("102_5"))}, scope="identify")
    folder = first.service.index.gallery("customer", first.service.settings.version).store.folder
    await first.close()

    # A crash left the store behind the database: one shard's last append torn, the other's
    # records lost.
    torn = folder / "shard-0.log"
    torn.write_bytes(torn.read_bytes()[:-7])
    (folder / "shard-1.log").write_bytes(b"")
    second = await serve(config)
    try:
        await second.server.app[RUNTIME].reconciling  # the start's reconcile, in the background
        gallery = second.service.index.gallery("customer", second.service.settings.version)
        assert sorted(gallery.members()) == sorted(ids)
        assert await second.service.reconcile_index() == 20
        found = await second.call("POST", "/identify", {"image_base64": b64(fvc_bytes("109_5"))}, scope="identify")
        assert {c["subject"] for c in found["candidates"]} == {"customer:9"}
        # The store opens whole again (positions and bindings intact after the cut).
        reopened = ShardedGallery(ShardStore(folder), second.service.keyring.current, ray_address="")
        assert reopened.versions == gallery.versions

        # A store deleted behind the service's back: the next search rebuilds what it lacks.
        await second.service.index.close()
        shutil.rmtree(folder)
        second.service.index = IdentifyIndex(config.data_dir / "identify", second.service.keyring.current, shards=2)
        found = await second.call("POST", "/identify", {"image_base64": b64(fvc_bytes("103_6"))}, scope="identify")
        assert {c["subject"] for c in found["candidates"]} == {"customer:3"}
        assert sorted(second.service.index.gallery("customer", second.service.settings.version).members()) == sorted(ids)
    finally:
        await second.close()


async def test_two_services_on_one_store_and_a_gallery_of_retired_prints_is_rebuilt(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    keyring = Keyring.load("", tmp_path)
    pool = MatchingPool(workers=1)
    pool.start()
    folder = tmp_path / "identify"
    one = BiometricService(db, keyring, pool, Settings(), IdentifyIndex(folder, keyring.current, shards=2))
    two = BiometricService(db, keyring, pool, Settings(), IdentifyIndex(folder, keyring.current, shards=2,
                                                                         rebuild_dead=2))
    try:
        alice = await one.enroll(Subject("customer", 1), 1, capture_of("101_1"), requested_by="t")
        assert [c["subject"] for c in (await two.identify(capture_of("101_2")))["candidates"]] == ["customer:1"]
        bob = await two.enroll(Subject("customer", 2), 1, capture_of("102_1"), requested_by="t")
        assert [c["subject"] for c in (await one.identify(capture_of("102_2")))["candidates"]] == ["customer:2"]
        assert [c["subject"] for c in (await two.identify(capture_of("102_3")))["candidates"]] == ["customer:2"]
        carol = [(await one.enroll(Subject("customer", 3), 1, capture_of(f"103_{i}"), requested_by="t"))["capture_id"]
                 for i in (1, 2, 5)]
        assert {c["subject"] for c in (await one.identify(capture_of("103_6")))["candidates"]} == {"customer:3"}
        # Each record was written once, at its own position, whoever wrote it.
        version = one.settings.version
        stored = ShardedGallery(ShardStore(one.index.gallery_folder("customer", version)), keyring.current,
                                ray_address="")
        assert sorted(stored.members()) == sorted([alice["capture_id"], bob["capture_id"], *carol])

        # Carol's prints are withdrawn (no longer enrolled): never a candidate again, and once the
        # dead outnumber the living the gallery is rebuilt from the database without them.
        async with db.unit_of_work() as session:
            await session.execute(update(Capture).where(Capture.id.in_(carol)).values(enrolled=False))
        assert (await one.identify(capture_of("103_7")))["candidates"] == []
        assert one.index.gallery("customer", version).stored == 5
        assert (await two.identify(capture_of("103_7")))["candidates"] == []
        rebuilt = two.index.gallery("customer", version)
        assert rebuilt.stored == 2 and sorted(rebuilt.members()) == [alice["capture_id"], bob["capture_id"]]
        assert [c["subject"] for c in (await two.identify(capture_of("101_3")))["candidates"]] == ["customer:1"]
        # The other service sees its store was made anew and opens the new one.
        assert [c["subject"] for c in (await one.identify(capture_of("102_4")))["candidates"]] == ["customer:2"]
        assert one.index.gallery("customer", version).stored == 2
    finally:
        await one.close()
        await two.close()
        await pool.close()
        await db.close()


async def test_a_search_that_cannot_cover_every_print_is_a_503_not_a_partial_ranking(sharded, monkeypatch):
    await sharded.call("POST", "/enroll", {"subject": "customer:1", "finger": 1,
                                           "image_base64": b64(fvc_bytes("101_1"))}, scope="enroll", expect=201)

    def failing(self, probe, threshold=0.0, limit=10):
        raise IncompleteSearch("shard 1 did not answer after 3 attempts: no complete ranking")

    monkeypatch.setattr(ShardedGallery, "search", failing)
    refused = await sharded.call("POST", "/identify", {"image_base64": b64(fvc_bytes("101_2"))}, scope="identify",
                                 expect=503)
    assert refused["error"] == "identify_incomplete" and "could not cover every enrolled print" in refused["message"]
    from web.i18n import catalogue

    assert "指纹查重" in catalogue("zh").message(refused["message"], code=refused["error"], status=503)
    # The enrollment's duplicate search refuses the same way, before anything is stored: the
    # same capture is enrolled once the shards answer again (not refused as a replay).
    enrollment = {"subject": "customer:2", "finger": 1, "search_duplicates": True,
                  "image_base64": b64(fvc_bytes("101_3"))}
    await sharded.call("POST", "/enroll", enrollment, scope="enroll", expect=503)
    assert await sharded.service.enrolled(Subject("customer", 2)) == []
    monkeypatch.undo()
    done = await sharded.call("POST", "/enroll", enrollment, scope="enroll", expect=201)
    assert [d["subject"] for d in done["duplicates"]] == ["customer:1"]
    found = await sharded.call("POST", "/identify", {"image_base64": b64(fvc_bytes("101_4"))}, scope="identify")
    assert {c["subject"] for c in found["candidates"]} == {"customer:1", "customer:2"}


def test_the_cluster_and_shard_settings():
    assert Config.from_env({}).ray_address == "" and Config.from_env({}).identify_shards == 1
    config = Config.from_env({"LOANCTL_RAY_ADDRESS": "127.0.0.1:6379", "LOANCTL_IDENTIFY_SHARDS": "4"})
    assert (config.ray_address, config.identify_shards) == ("127.0.0.1:6379", 4)
    with pytest.raises(ConfigError, match="LOANCTL_IDENTIFY_SHARDS"):
        Config.from_env({"LOANCTL_IDENTIFY_SHARDS": "0"})
    from core.cli import SERVE_ENVIRONMENT

    assert "LOANCTL_RAY_ADDRESS" in SERVE_ENVIRONMENT and "LOANCTL_IDENTIFY_SHARDS" in SERVE_ENVIRONMENT


async def test_a_search_whose_gallery_is_rebuilt_under_it_searches_the_new_one(sharded, monkeypatch):
    await sharded.call("POST", "/enroll", {"subject": "customer:1", "finger": 1,
                                           "image_base64": b64(fvc_bytes("101_1"))}, scope="enroll", expect=201)
    index = sharded.service.index
    reconcile = IdentifyIndex.reconcile
    swapped = []

    async def rebuilt_after(self, kind, version, enrolled, fetch):
        gallery = await reconcile(self, kind, version, enrolled, fetch)
        if not swapped:  # a rebuild lands between this search's reconcile and its fan-out
            swapped.append(gallery)
            self._galleries[(kind, version)] = self._rebuild(kind, version, gallery)
        return gallery

    monkeypatch.setattr(IdentifyIndex, "reconcile", rebuilt_after)
    found = await sharded.call("POST", "/identify", {"image_base64": b64(fvc_bytes("101_2"))}, scope="identify")
    assert swapped and {c["subject"] for c in found["candidates"]} == {"customer:1"}
    with pytest.raises(ShardError, match="closed"):
        swapped[0].search(fvc_bytes("101_2"), 40.0, None)  # the old gallery answers nothing
    assert index.gallery("customer", sharded.service.settings.version) is not swapped[0]
