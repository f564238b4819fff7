"""The fingerprint service alone over HTTP (as `loanctl serve biometrics` runs it): service
tokens, enroll / verify / identify with real prints, quality and replay refusals, and what
a copy of the database holds."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from biometrics.app import AUDIENCE, RUNTIME, create_app
from biometrics.engine import analyse
from biometrics.service import Subject
from core.servicetoken import ServiceTokens
from tests.suite import suite_config

from .prints import b64, fvc_bytes
from .serving import serve


@pytest.fixture
async def service(tmp_path):
    client = await serve(suite_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bio.sqlite3'}"))
    yield client
    await client.close()


async def test_a_request_without_a_valid_service_token_gets_401(service):
    body = {"subject": "customer:1", "finger": 1, "image_base64": b64(fvc_bytes("104_1"))}
    for headers in ({}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": "Bearer " + ServiceTokens(service.config.secret_key).issue(
                        subject="core", audience="committee", scope="enroll")},
                    {"Authorization": "Bearer " + ServiceTokens(b"another secret key of 32 bytes!!").issue(
                        subject="core", audience=AUDIENCE, scope="enroll")},
                    {"Authorization": "Bearer " + ServiceTokens(service.config.secret_key).issue(
                        subject="core", audience=AUDIENCE, scope="identify")}):
        response = await service.post("/enroll", json=body, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_token"
    assert (await service.get("/healthz")).status == 401
    assert (await service.call("GET", "/healthz", scope="health"))["status"] == "ok"


async def test_enroll_verify_identify_with_real_prints(service):
    enrolled = await service.call("POST", "/enroll", {"subject": "customer:7", "finger": 2,
                                                      "image_base64": b64(fvc_bytes("104_1"))}, scope="enroll",
                                  expect=201)
    assert enrolled["minutiae"] >= 12
    genuine = await service.call("POST", "/verify", {"subject": "customer:7", "purpose": "verification",
                                                     "image_base64": b64(fvc_bytes("104_3")), "device": "U.are.U 4500"},
                                 scope="verify")
    assert genuine["matched"] and genuine["score"] >= 40 and genuine["threshold"] == 40
    impostor = await service.call("POST", "/verify", {"subject": "customer:7", "purpose": "verification",
                                                      "image_base64": b64(fvc_bytes("110_1"))}, scope="verify")
    assert not impostor["matched"] and impostor["score"] < 40 and "below the threshold" in impostor["reason"]
    found = await service.call("POST", "/identify", {"image_base64": b64(fvc_bytes("104_5"))}, scope="identify")
    assert [c["subject"] for c in found["candidates"]] == ["customer:7"]
    nobody = await service.call("POST", "/identify", {"image_base64": b64(fvc_bytes("107_1"))}, scope="identify")
    assert nobody["candidates"] == []


async def test_identify_decrypts_each_enrolled_print_into_the_index_once(service):
    """An enrolled print is decrypted from the database and sealed into the sharded index once;
    a search reuses it, an enrollment adds only the new print, and a subject's exclusion does
    not rebuild anything."""
    runtime = service.server.app[RUNTIME]
    fetched = []
    running = runtime.running()
    enrolled_templates = running._enrolled_templates

    async def counting(ids):
        fetched.append(list(ids))
        return await enrolled_templates(ids)

    running._enrolled_templates = counting
    first = await service.call("POST", "/enroll", {"subject": "customer:7", "finger": 2,
                                                   "image_base64": b64(fvc_bytes("104_1"))}, scope="enroll", expect=201)
    found = await service.call("POST", "/identify", {"image_base64": b64(fvc_bytes("104_5"))}, scope="identify")
    assert [c["subject"] for c in found["candidates"]] == ["customer:7"] and fetched == [[first["capture_id"]]]
    again = await service.call("POST", "/identify", {"image_base64": b64(fvc_bytes("104_6"))}, scope="identify")
    assert [c["subject"] for c in again["candidates"]] == ["customer:7"] and len(fetched) == 1
    second = await service.call("POST", "/enroll", {"subject": "customer:8", "finger": 1,
                                                    "image_base64": b64(fvc_bytes("102_1"))}, scope="enroll", expect=201)
    found = await service.call("POST", "/identify", {"image_base64": b64(fvc_bytes("102_3"))}, scope="identify")
    assert [c["subject"] for c in found["candidates"]] == ["customer:8"] and fetched[1:] == [[second["capture_id"]]]
    other = await running.identify_template(
        (await running.pool.analyse(fvc_bytes("102_4"), 500.0)).template, exclude=Subject("customer", 8))
    assert other == [] and len(fetched) == 2
    # The index's store is under the data folder, sealed: no template in it in the clear.
    gallery = running.index.gallery("customer", found["candidates"][0]["template_version"])
    assert gallery.store.folder.is_relative_to(service.config.data_dir / "identify")
    assert sorted(gallery.members()) == [first["capture_id"], second["capture_id"]]
    stored = b"".join(path.read_bytes() for path in gallery.store.folder.iterdir())
    for name in ("104_1", "102_1"):
        template = analyse(fvc_bytes(name), 500.0).template
        assert template not in stored and template[40:120] not in stored


async def test_replay_and_poor_captures_are_refused_with_a_reason(service):
    await service.call("POST", "/enroll", {"subject": "user:3", "finger": 1, "image_base64": b64(fvc_bytes("108_1"))},
                       scope="enroll", expect=201)
    replay = await service.call("POST", "/verify", {"subject": "user:3", "purpose": "step_up",
                                                    "image_base64": b64(fvc_bytes("108_1"))}, scope="verify", expect=409)
    assert replay["error"] == "capture_replay" and "replay" in replay["message"]
    poor = await service.call("POST", "/enroll", {"subject": "user:3", "finger": 3,
                                                  "image_base64": b64(fvc_bytes("103_4"))}, scope="enroll", expect=422)
    assert poor["error"] == "capture_quality" and "too few minutiae" in poor["message"]
    unreadable = await service.call("POST", "/enroll", {"subject": "user:3", "finger": 4,
                                                        "image_base64": b64(b"not an image at all")},
                                    scope="enroll", expect=422)
    assert unreadable["error"] == "capture_unreadable"
    unknown = await service.call("POST", "/verify", {"subject": "customer:99", "purpose": "verification",
                                                     "image_base64": b64(fvc_bytes("108_2"))}, scope="verify", expect=409)
    assert unknown["error"] == "not_enrolled"


async def _dump_tables(database_url: str) -> bytes:
    """Every value of every table, as bytes: what a dump of the database holds."""
    from sqlalchemy import select

    from core.db import Database
    from core.orm import Base

    db = Database(database_url)
    parts = []
    try:
        async with db.unit_of_work(write=False) as session:
            for table in Base.metadata.sorted_tables:
                for row in (await session.execute(select(table))).all():
                    for value in row:
                        parts.append(value if isinstance(value, bytes) else str(value).encode())
    finally:
        await db.close()
    return b"\x00".join(parts)


async def _captures(database_url: str) -> list[tuple]:
    from sqlalchemy import select

    from biometrics.tables import Capture
    from core.db import Database

    db = Database(database_url)
    try:
        async with db.unit_of_work(write=False) as session:
            return list((await session.execute(
                select(Capture.sha256, Capture.template_sealed, Capture.image_sealed))).all())
    finally:
        await db.close()


@pytest.mark.parametrize("keep_images", [False, True])
async def test_the_database_holds_no_raw_image_and_no_plaintext_template(tmp_path, database_url, keep_images):
    config = suite_config(tmp_path, database_url, keep_fingerprint_images=keep_images)
    app = create_app(config)
    client = TestClient(TestServer(app))
    await client.start_server()
    tokens = ServiceTokens(config.secret_key)
    images = [fvc_bytes(name) for name in ("105_1", "105_2", "105_3")]
    try:
        for finger, image in enumerate(images[:2], start=1):
            token = tokens.issue(subject="core", audience=AUDIENCE, scope="enroll")
            response = await client.post("/enroll", json={"subject": "customer:5", "finger": finger,
                                                          "image_base64": b64(image)},
                                         headers={"Authorization": f"Bearer {token}"})
            assert response.status == 201
        token = tokens.issue(subject="core", audience=AUDIENCE, scope="verify")
        response = await client.post("/verify", json={"subject": "customer:5", "purpose": "disbursement",
                                                      "image_base64": b64(images[2])},
                                     headers={"Authorization": f"Bearer {token}"})
        assert (await response.json())["matched"]
    finally:
        await client.close()  # closes the database: SQLite's WAL is checkpointed into the file
    dump = await _dump_tables(database_url)
    if database_url.startswith("sqlite"):
        dump += b"".join(p.read_bytes() for p in tmp_path.glob("loans.sqlite3*"))
    sealed = await _captures(database_url)
    assert len(sealed) == 3
    assert all((image is not None) == keep_images for _, _, image in sealed)
    for image in images:
        template = analyse(image, 500.0).template
        assert len(template) > 100
        assert template not in dump, "a plaintext template is in the database file"
        assert template[:48] not in dump and template[-48:] not in dump
        for offset in range(0, len(image) - 256, len(image) // 8):
            assert image[offset:offset + 256] not in dump, "raw image bytes are in the database file"
    import hashlib

    assert {hashlib.sha256(i).hexdigest() for i in images} == {sha for sha, _, _ in sealed}


async def test_a_verification_is_one_read_one_pool_trip_and_one_write(service):
    """The latency fix: the capture is extracted on a pool worker while the replay check and the
    enrolled references are read (the trip starts before the read ends), the few 1:1 scores are
    computed here, and the record is written in one unit of work; the refusals keep their order
    and answers."""
    import contextlib

    await service.call("POST", "/enroll", {"subject": "customer:9", "finger": 3,
                                           "image_base64": b64(fvc_bytes("105_1"))}, scope="enroll", expect=201)
    first = await service.call("POST", "/verify", {"subject": "customer:9", "purpose": "verification",
                                                   "image_base64": b64(fvc_bytes("105_4"))}, scope="verify")
    assert first["matched"]  # the first one finds that no migration between modes is under way
    running = service.server.app[RUNTIME].running()
    events = []
    run, unit_of_work = running.pool.run, running.db.unit_of_work

    async def counted_run(function, *args):
        events.append(f"trip {function.__name__}")
        return await run(function, *args)

    @contextlib.asynccontextmanager
    async def counted_unit(*, write: bool = True):
        kind = "write" if write else "read"
        events.append(kind)
        async with unit_of_work(write=write) as session:
            yield session
        events.append(f"{kind} done")

    def trips():
        return [e for e in events if e.startswith("trip")]

    def units():
        return [e for e in events if e in ("read", "write")]

    running.pool.run, running.db.unit_of_work = counted_run, counted_unit
    try:
        genuine = await service.call("POST", "/verify", {"subject": "customer:9", "purpose": "verification",
                                                         "image_base64": b64(fvc_bytes("105_2"))}, scope="verify")
        assert genuine["matched"] and genuine["score"] > 40
        assert trips() == ["trip analyse"] and units() == ["read", "write"]
        assert events.index("trip analyse") < events.index("read done"), events  # overlapped, not after
        events.clear()
        replay = await service.call("POST", "/verify", {"subject": "customer:9", "purpose": "verification",
                                                        "image_base64": b64(fvc_bytes("105_2"))}, scope="verify",
                                    expect=409)
        assert replay["error"] == "capture_replay"
        assert units() == ["read", "write"]  # refused on the read (its analysis discarded); the refusal recorded
        events.clear()
        stranger = await service.call("POST", "/verify", {"subject": "customer:10", "purpose": "verification",
                                                          "image_base64": b64(fvc_bytes("105_3"))}, scope="verify",
                                      expect=409)
        assert stranger["error"] == "not_enrolled" and trips() == ["trip analyse"]
        events.clear()
        unreadable = await service.call("POST", "/verify", {"subject": "customer:9", "purpose": "verification",
                                                            "image_base64": b64(b"not an image")}, scope="verify",
                                        expect=422)
        assert unreadable["error"] == "capture_unreadable" and units() == ["read", "write"]
    finally:
        running.pool.run, running.db.unit_of_work = run, unit_of_work
