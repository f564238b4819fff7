"""The deployment's template mode (LOANCTL_FINGERPRINT_MODE): enrollments carry their template
version, a deployment switched from exact to accurate still verifies the people enrolled
before (through their exact templates) while enrolling new ones in the accurate mode, the 1:N
gallery never compares templates of two versions, and `migrate-templates` adds accurate
templates from kept images (the others wait for re-enrollment, which the desk shows)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from biometrics import engine, modes
from biometrics.accurate import ACCURATE_VERSION
from biometrics.engine import MatchingPool
from biometrics.keyring import Keyring
from biometrics.service import BiometricService, Settings, Subject
from biometrics.sourceafis.template import TEMPLATE_VERSION, TemplateVersionError
from biometrics.tables import Capture, Verification
from core.audit import AuditRecord
from core.config import Config, ConfigError
from core.db import Database
from tests.fingerprint_data import fvc_path
from tests.loans.walk import capture_of

ALICE, BOB, CAROL = Subject("customer", 1), Subject("customer", 2), Subject("customer", 3)


@pytest.fixture
async def deployment(tmp_path, database_url):
    """One database and key; `service(mode, keep_images)` is the fingerprint service as a
    deployment configured that way runs it (a restart with another LOANCTL_FINGERPRINT_MODE)."""
    db = Database(database_url)
    await db.migrate()
    keyring = Keyring.load("", tmp_path)
    pool = MatchingPool(workers=1)
    pool.start()

    def service(mode: str, keep_images: bool = False) -> BiometricService:
        return BiometricService(db, keyring, pool, Settings(keep_images=keep_images, mode=mode))

    service.db = db
    service.pool = pool
    yield service
    await pool.close()
    await db.close()


async def _versions(db: Database, subject: Subject) -> list[str]:
    async with db.unit_of_work(write=False) as session:
        return list((await session.execute(select(Capture.template_version).where(
            Capture.subject_id == subject.id, Capture.enrolled).order_by(Capture.id))).scalars())


def test_the_mode_is_a_setting_of_the_deployment():
    assert Config.from_env({}).fingerprint_mode == "exact"
    assert Config.from_env({"LOANCTL_FINGERPRINT_MODE": "accurate"}).fingerprint_mode == "accurate"
    assert Settings.from_config(Config.from_env({"LOANCTL_FINGERPRINT_MODE": "accurate"})).version == ACCURATE_VERSION
    with pytest.raises(ConfigError, match="LOANCTL_FINGERPRINT_MODE"):
        Config.from_env({"LOANCTL_FINGERPRINT_MODE": "fast"})


async def test_an_analysis_begun_in_the_wrong_mode_is_not_used_for_the_score(deployment):
    """A node that believes every template is of its version (it analyses the capture before the
    read) while another node enrolled in the other mode: the score is still made in the mode of
    the person's references, equal to the other deployment's."""
    exact = deployment("exact")
    for name in ("101_1", "101_2"):
        await exact.enroll(ALICE, 1, capture_of(name), requested_by="officer")
    reference = await exact.verify(ALICE, capture_of("101_5"), requested_by="officer", purpose="verification")
    accurate = deployment("accurate")
    accurate._one_version = True  # as if it had read before the exact enrollments
    extracted = []
    analyse = deployment.pool.analyse

    async def recording(image, dpi, mode="exact"):
        extracted.append(mode)
        return await analyse(image, dpi, mode)

    deployment.pool.analyse = recording
    answer = await accurate.verify(ALICE, capture_of("101_6"), requested_by="officer", purpose="verification")
    again = await exact.verify(ALICE, capture_of("101_6"), requested_by="officer", purpose="verification")
    assert extracted[:2] == ["accurate", "exact"] and answer["mode"] == "exact" and answer["reenroll"]
    assert answer["matched"] and answer["score"] == again["score"] and reference["matched"]


async def test_switching_to_accurate_keeps_verifying_exact_enrollments(deployment):
    exact = deployment("exact")
    for name in ("101_1", "101_2"):
        enrolled = await exact.enroll(ALICE, 1, capture_of(name), requested_by="officer")
        assert enrolled["template_version"] == TEMPLATE_VERSION and enrolled["mode"] == "exact"
    before = await exact.verify(ALICE, capture_of("101_3"), requested_by="officer", purpose="verification")
    assert before["matched"] and before["template_version"] == TEMPLATE_VERSION and not before["reenroll"]

    accurate = deployment("accurate")  # the bank restarts the service with LOANCTL_FINGERPRINT_MODE=accurate
    extracted = []
    analyse, analyse_and_score = deployment.pool.analyse, deployment.pool.analyse_and_score

    async def recording(image, dpi, mode="exact"):
        extracted.append(mode)
        return await analyse(image, dpi, mode)

    async def recording_and_scoring(image, dpi, candidates, mode="exact"):
        extracted.append(mode)
        return await analyse_and_score(image, dpi, candidates, mode)

    deployment.pool.analyse, deployment.pool.analyse_and_score = recording, recording_and_scoring
    old = await accurate.verify(ALICE, capture_of("101_4"), requested_by="officer", purpose="verification")
    assert old["matched"] and old["template_version"] == TEMPLATE_VERSION and old["reenroll"]
    # Only the mode of her references is extracted: no accurate extraction is wasted on her.
    assert extracted == ["exact"]
    # The probe was extracted in the exact mode for the exact references: the score is the one
    # the exact deployment gives for the same print.
    again = await exact.verify(ALICE, capture_of("101_4"), requested_by="officer", purpose="verification")
    assert again["score"] == old["score"]
    impostor = await accurate.verify(ALICE, capture_of("105_3"), requested_by="officer", purpose="verification")
    assert not impostor["matched"] and impostor["template_version"] == TEMPLATE_VERSION
    assert all(e["reenroll"] and e["mode"] == "exact" for e in await accurate.enrolled(ALICE))

    new = await accurate.enroll(BOB, 1, capture_of("102_1"), requested_by="officer")
    assert new["template_version"] == ACCURATE_VERSION and new["mode"] == "accurate"
    assert await _versions(deployment.db, BOB) == [ACCURATE_VERSION]
    async with deployment.db.unit_of_work(write=False) as session:
        row = (await session.execute(select(Capture).where(Capture.id == new["capture_id"]))).scalar_one()
        stored = (await accurate.templates_of(session, [row]))[row.id]
    assert modes.template_version(stored) == ACCURATE_VERSION
    genuine = await accurate.verify(BOB, capture_of("102_3"), requested_by="officer", purpose="verification")
    assert genuine["matched"] and genuine["template_version"] == ACCURATE_VERSION and not genuine["reenroll"]
    # The exact deployment cannot read Bob's template: it still extracts the probe in the mode of
    # the reference, so a deployment switched back keeps working too.
    back = await exact.verify(BOB, capture_of("102_4"), requested_by="officer", purpose="verification")
    assert back["matched"] and back["template_version"] == ACCURATE_VERSION

    # Alice re-enrolls finger 1 in the accurate mode: from now on that finger is verified through
    # the accurate template; her exact templates stay (both versions kept while migrating).
    await accurate.enroll(ALICE, 1, capture_of("101_2"), requested_by="officer")
    assert sorted(await _versions(deployment.db, ALICE)) == sorted([TEMPLATE_VERSION] * 2 + [ACCURATE_VERSION])
    assert not any(e["reenroll"] for e in await accurate.enrolled(ALICE))
    now = await accurate.verify(ALICE, capture_of("101_3"), requested_by="officer", purpose="verification")
    assert now["matched"] and now["template_version"] == ACCURATE_VERSION and not now["reenroll"]
    async with deployment.db.unit_of_work(write=False) as session:
        recorded = (await session.execute(select(Verification.template_version).where(
            Verification.id == now["verification_id"]))).scalar_one()
        probe = (await session.execute(select(Capture.template_version).where(
            Capture.id == now["capture_id"]))).scalar_one()
    assert recorded == probe == ACCURATE_VERSION


async def test_the_gallery_compares_templates_of_one_version_only(deployment):
    await deployment("exact").enroll(ALICE, 1, capture_of("101_1"), requested_by="officer")
    accurate = deployment("accurate")
    await accurate.enroll(BOB, 1, capture_of("102_1"), requested_by="officer")
    calls = []
    import biometrics.identifyindex as identifyindex

    search = identifyindex.IdentifyIndex.search

    async def recording(index, kind, version, probe, threshold, enrolled, fetch):
        templates = await fetch(sorted(enrolled))
        calls.append((modes.mode_of(version), modes.mode_of(modes.template_version(probe)),
                      {modes.mode_of(modes.template_version(t)) for t in templates.values()}))
        return await search(index, kind, version, probe, threshold, enrolled, fetch)

    identifyindex.IdentifyIndex.search = recording
    try:
        found = await accurate.identify(capture_of("101_3"))
        assert [(c["subject"], c["template_version"]) for c in found["candidates"]] == [("customer:1", TEMPLATE_VERSION)]
        found = await accurate.identify(capture_of("102_3"))
        assert [(c["subject"], c["template_version"]) for c in found["candidates"]] == [("customer:2", ACCURATE_VERSION)]
    finally:
        identifyindex.IdentifyIndex.search = search
    # Each mode's gallery holds its own templates only and is searched with a probe of its own mode.
    assert {gallery for gallery, _, _ in calls} == {"exact", "accurate"}
    assert all(probe == gallery and members == {gallery} for gallery, probe, members in calls)
    assert accurate.index.gallery("customer", TEMPLATE_VERSION).store.folder != \
        accurate.index.gallery("customer", ACCURATE_VERSION).store.folder
    # A duplicate search at enrollment covers both galleries, each in its own mode.
    duplicate = await accurate.enroll(CAROL, 2, capture_of("101_4"), requested_by="officer", search_duplicates=True)
    assert [(d["subject"], d["template_version"]) for d in duplicate["duplicates"]] == [("customer:1", TEMPLATE_VERSION)]


def test_the_engine_refuses_to_compare_across_versions():
    from biometrics.accurate import extract as extract_accurate, write_template
    from biometrics.sourceafis.extractor import extract
    from biometrics.sourceafis.image import decode_image

    pixels = decode_image(fvc_path("104_1").read_bytes())
    plain, enhanced = extract(pixels, 500).to_cbor(), write_template(extract_accurate(pixels, 500))
    assert modes.template_version(plain) == TEMPLATE_VERSION and modes.template_version(enhanced) == ACCURATE_VERSION
    with pytest.raises(TemplateVersionError):
        engine.compact_chunk([plain, enhanced], "exact")
    with pytest.raises(TemplateVersionError):
        engine.compact_chunk([plain], "accurate")
    with pytest.raises(TemplateVersionError):
        engine.scores(plain, [enhanced])
    with pytest.raises(TemplateVersionError):
        engine.search(enhanced, [[plain]])
    exact_chunk = engine.compact_chunk([plain], "exact")
    with pytest.raises(TemplateVersionError):
        engine.identify_compact(enhanced, [exact_chunk], 0.0)
    assert engine.identify_compact(plain, [exact_chunk], 0.0)[0][0] == 0
    accurate_chunk = engine.compact_chunk([enhanced], "accurate")
    assert accurate_chunk[0] != exact_chunk[0] and engine.identify_compact(enhanced, [accurate_chunk], 0.0)[0][0] == 0


async def test_migrating_adds_accurate_templates_from_kept_images(deployment):
    kept = await deployment("exact", keep_images=True).enroll(ALICE, 1, capture_of("101_1"), requested_by="officer")
    gone = await deployment("exact").enroll(BOB, 1, capture_of("102_1"), requested_by="officer")
    accurate = deployment("accurate")
    result = await accurate.migrate_templates(operator="ops")
    assert result == {"template_version": ACCURATE_VERSION, "migrated": 1, "without_image": 1, "too_poor": 0,
                      "captures_to_reenroll": [gone["capture_id"]]}
    assert await _versions(deployment.db, ALICE) == [TEMPLATE_VERSION, ACCURATE_VERSION]
    alice = await accurate.enrolled(ALICE)
    assert {e["sha256"] for e in alice} == {kept["sha256"]} and not any(e["reenroll"] for e in alice)
    assert [e["reenroll"] for e in await accurate.enrolled(BOB)] == [True]
    verified = await accurate.verify(ALICE, capture_of("101_3"), requested_by="officer", purpose="verification",
                                     render=True)
    assert verified["matched"] and verified["template_version"] == ACCURATE_VERSION and verified["enrollment_png"]
    async with deployment.db.unit_of_work(write=False) as session:
        audits = (await session.execute(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "biometrics.migrate_template"))).scalar_one()
    assert audits == 1
    assert (await accurate.migrate_templates(operator="ops"))["migrated"] == 0
    # Back in the exact mode nothing is missing: every enrolled capture has an exact template.
    assert (await deployment("exact").migrate_templates(operator="ops"))["migrated"] == 0


def test_the_migrate_templates_command(tmp_path, monkeypatch, capsys):
    """`loanctl biometrics migrate-templates` in a deployment switched to the accurate mode."""
    import argparse
    import asyncio
    import json

    from biometrics.servicecli import register

    url = f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LOANCTL_DATABASE_URL", url)
    monkeypatch.setenv("LOANCTL_DATA", str(data))
    monkeypatch.delenv("LOANCTL_BIOMETRIC_KEY", raising=False)

    async def seed() -> None:
        db = Database(url)
        await db.migrate()
        pool = MatchingPool(workers=1)
        pool.start()
        try:
            service = BiometricService(db, Keyring.load("", data), pool, Settings(keep_images=True, mode="exact"))
            await service.enroll(ALICE, 1, capture_of("101_1"), requested_by="officer")
        finally:
            await pool.close()
            await db.close()

    asyncio.run(seed())
    parser = argparse.ArgumentParser(prog="loanctl")
    register(parser.add_subparsers(dest="command"))
    monkeypatch.setenv("LOANCTL_FINGERPRINT_MODE", "accurate")
    args = parser.parse_args(["biometrics", "migrate-templates"])
    assert args.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "accurate" and report["migrated"] == 1 and report["captures_to_reenroll"] == []
    assert args.run(args) == 0
    assert json.loads(capsys.readouterr().out)["migrated"] == 0


async def test_the_pool_runs_the_accuracy_modes_two_extractions_as_two_tasks_with_the_same_answer():
    """MatchingPool splits an accurate analysis into its two independent extractions (enhanced,
    plain) on two workers; the joined template and the scores (the higher of the two sets' per
    candidate) are the ones the engine computes in one process, and a 1:N gallery of accurate
    templates finds the mate."""
    from biometrics.accurate import extract as accurate_extract, read_template, write_template
    from biometrics.sourceafis.image import decode_image

    files = {n: fvc_path(n).read_bytes() for n in ("101_1", "101_2", "102_1", "103_1", "101_4")}
    enrolled = [engine.analyse(files[n], 500, "accurate").template for n in ("101_1", "101_2", "102_1", "103_1")]
    assert enrolled[0] == write_template(accurate_extract(decode_image(files["101_1"]), 500))
    expected = engine.analyse_and_score(files["101_4"], 500, enrolled, "accurate")
    parts = [engine.analyse_accurate_part(files["101_4"], 500, part, enrolled) for part in engine.ACCURATE_PARTS]
    assert expected[1] == [max(a, b) for a, b in zip(parts[0].scores, parts[1].scores)]
    assert expected[1] == engine.scores(expected[0].template, enrolled)
    # The quality check is made on the set whose minutiae cover more skin.
    from biometrics.quality import convex_hull_area

    areas = [convex_hull_area(p.positions) for p in parts]
    assert expected[0].positions == parts[areas.index(max(areas))].positions
    # The plain set is the exact mode's template of the capture, bit for bit.
    assert read_template(expected[0].template).plain.to_cbor() == engine.analyse(files["101_4"], 500).template
    pool = MatchingPool(workers=2)
    pool.start()
    try:
        analysis, scores = await pool.analyse_and_score(files["101_4"], 500, enrolled, "accurate")
        assert (analysis, scores) == expected
        assert await pool.analyse(files["101_4"], 500, "accurate") == expected[0]
        assert scores[0] >= 40 and scores[1] >= 40 and max(scores[2:]) < 40
        with pytest.raises(engine.CaptureError):
            await pool.analyse(b"not an image", 500, "accurate")
        with pytest.raises(TemplateVersionError):
            await pool.analyse_and_score(files["101_4"], 500, [engine.analyse(files["102_1"], 500).template],
                                         "accurate")
        chunk = await pool.compact_chunk(enrolled, "accurate")
        hits = await pool.identify_compact(analysis.template, [chunk], 40.0)
        assert [index for index, _ in hits] == [0, 1] and [s for _, s in hits] == sorted(scores[:2], reverse=True)
    finally:
        await pool.close()
