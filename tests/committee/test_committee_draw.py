"""The panel draw: reproducible from the record, tampering detected."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from committee.draw import (
    DrawError,
    DrawRecord,
    Exclusion,
    SeedCommitment,
    draw_panel,
    replace_absent,
    verify_draw,
)

POOL = [f"member-{i:02d}" for i in range(12)]
SEED = SeedCommitment.from_seed(bytes(range(32)))


def spec_draw(seed: bytes, meeting_id: str, pool: list[str], excluded: set[str], k: int):
    """The procedure as written in docs/committee-draw.md, independently."""
    frozen = sorted(pool)
    pool_hash = hashlib.sha256("\n".join(frozen).encode()).digest()
    prefix = b"loan-committee-draw/v1\x00" + meeting_id.encode() + b"\x00" + pool_hash
    stream = b""
    counter = 0
    position = 0

    def take8() -> int:
        nonlocal stream, counter, position
        while len(stream) < position + 8:
            stream += hmac.new(seed, prefix + counter.to_bytes(8, "big"), "sha256").digest()
            counter += 1
        value = int.from_bytes(stream[position : position + 8], "big")
        position += 8
        return value

    items = [m for m in frozen if m not in excluded]
    for i in range(len(items) - 1, 0, -1):
        n = i + 1
        while True:
            x = take8()
            if x < 2**64 - (2**64 % n):
                break
        j = x % n
        items[i], items[j] = items[j], items[i]
    return items[:k], items[k:]


def make_record(**overrides) -> DrawRecord:
    return draw_panel(
        "meeting-42",
        SEED,
        overrides.pop("pool", POOL),
        overrides.pop("panel_size", 5),
        overrides.pop("exclusions", [("member-03", "loan officer A of the case"),
                                     Exclusion("member-07", "declared conflict: cousin")]),
        committed_at="2026-11-28T09:00:00+00:00",
        frozen_at="2026-11-28T09:05:00+00:00",
    )


def test_draw_follows_the_documented_procedure():
    record = make_record()
    panel, reserves = spec_draw(SEED.seed, "meeting-42", POOL, {"member-03", "member-07"}, 5)
    assert list(record.panel) == panel
    assert list(record.reserves) == reserves
    assert record.seed_commitment == hashlib.sha256(SEED.seed).hexdigest()
    assert not {"member-03", "member-07"} & set(record.panel + record.reserves)
    assert [e.reason for e in record.exclusions] == [
        "loan officer A of the case", "declared conflict: cousin"]


def test_verify_accepts_the_record_and_survives_json_round_trip():
    record = make_record()
    assert verify_draw(record).matches
    assert verify_draw(DrawRecord.from_dict(record.to_dict())).matches


@pytest.mark.parametrize(
    "tamper, problem",
    [
        (lambda r: replace(r, panel=(r.reserves[0],) + r.panel[1:]), "panel does not follow"),
        (lambda r: replace(r, seed=bytes(32).hex()), "does not match the committed hash"),
        (lambda r: replace(r, pool=r.pool[:-1]), "pool hash"),
        (lambda r: replace(r, exclusions=r.exclusions[:1]), "panel does not follow"),
        (lambda r: replace(r, committed_at="2026-11-28T10:00:00+00:00"), "committed after"),
        (lambda r: replace(r, meeting_id="meeting-43"), "panel does not follow"),
    ],
)
def test_verify_detects_a_tampered_record(tamper, problem):
    verification = verify_draw(tamper(make_record()))
    assert not verification.matches
    assert any(problem in p for p in verification.problems), verification.problems


def test_absent_member_redraw_is_logged_and_verified():
    record = make_record()
    absent = record.panel[2]
    changed = replace_absent(record, absent, "did not answer the SMS", "2026-11-28T10:00:00+00:00")
    assert changed.current_panel[2] == record.reserves[0]
    assert changed.replacements[0].absent == absent
    again = replace_absent(changed, changed.current_panel[0], "ill", "2026-11-28T10:01:00+00:00")
    assert again.current_panel[0] == record.reserves[1]
    assert verify_draw(again).matches
    forged = replace(
        again,
        replacements=(again.replacements[0],
                      replace(again.replacements[1], replacement=record.reserves[3])),
    )
    verification = verify_draw(forged)
    assert not verification.matches
    assert "should have been replaced by" in verification.problems[0]
    with pytest.raises(DrawError, match="not on the current panel"):
        replace_absent(again, absent, "again", "2026-11-28T10:02:00+00:00")


def test_bad_input_gets_clear_errors():
    with pytest.raises(DrawError, match="cannot be drawn from 10 eligible"):
        make_record(panel_size=11)
    with pytest.raises(DrawError, match="more than once"):
        make_record(pool=POOL + ["member-01"])
    with pytest.raises(DrawError, match="not in the pool"):
        make_record(exclusions=[("stranger", "x")])
    with pytest.raises(DrawError, match="no reason"):
        make_record(exclusions=[("member-01", " ")])
    with pytest.raises(DrawError, match="does not match its commitment"):
        draw_panel("m", SeedCommitment(SEED.seed, "00" * 32), POOL, 3)
    with pytest.raises(DrawError, match="32 bytes"):
        SeedCommitment.from_seed(b"short")
    small = make_record(pool=POOL[:7], panel_size=5, exclusions=[])
    one = replace_absent(small, small.panel[0], "absent", "t1")
    two = replace_absent(one, one.current_panel[1], "absent", "t2")
    with pytest.raises(DrawError, match="no reserve left"):
        replace_absent(two, two.current_panel[2], "absent", "t3")


def test_fresh_seeds_differ():
    assert SeedCommitment.new().seed != SeedCommitment.new().seed


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=1, max_value=11))
def test_any_seed_gives_a_panel_of_distinct_eligible_members(seed, k):
    record = draw_panel("m", SeedCommitment.from_seed(seed), POOL, k, [("member-00", "officer")])
    assert len(set(record.panel)) == k
    assert sorted(record.panel + record.reserves) == POOL[1:]
    assert verify_draw(record).matches
