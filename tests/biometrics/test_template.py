"""The template's CBOR form: the Java original's templates read and written back, hostile input refused."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biometrics.sourceafis.template import (
    MAX_MINUTIAE,
    PI2_FLOAT32,
    TEMPLATE_VERSION,
    Minutia,
    MinutiaType,
    Template,
    TemplateError,
)

from tests.fingerprint_data import GOLDEN, read_bytes


def _golden_templates() -> list[Path]:
    return sorted((GOLDEN / "templates").glob("*.cbor")) + sorted((GOLDEN / "raw-gray" / "templates").glob("*.cbor"))


def _valid() -> dict:
    return {
        "version": "3.18.1-java",
        "width": 388,
        "height": 374,
        "positionsX": [10, 20],
        "positionsY": [30, 40],
        "directions": [0.5, 6.0],
        "types": "EB",
    }


def _encode(document: dict) -> bytes:
    # cbor2 writes Python floats as float64 unless told otherwise; templates use float32.
    return cbor2.dumps(document, canonical=False)


def test_every_golden_template_reads_and_writes_back_byte_for_byte():
    paths = _golden_templates()
    assert len(paths) == 166
    for path in paths:
        raw = path.read_bytes()
        template = Template.from_cbor(raw)
        decoded = cbor2.loads(raw)
        assert [m.x for m in template.minutiae] == decoded["positionsX"], path.name
        assert [m.y for m in template.minutiae] == decoded["positionsY"], path.name
        assert [m.direction for m in template.minutiae] == decoded["directions"], path.name
        assert "".join("B" if m.type == MinutiaType.BIFURCATION else "E" for m in template.minutiae) == decoded["types"]
        assert (template.width, template.height) == (decoded["width"], decoded["height"])
        # Same layout as Jackson's (indefinite lengths, float32, its text headers); only the version differs.
        written = template.to_cbor()
        java_version = cbor2.dumps("3.18.1-java")
        assert written.replace(cbor2.dumps(TEMPLATE_VERSION), java_version) == raw, path.name


def test_golden_minutiae_are_already_in_shuffled_order():
    for path in _golden_templates()[:10]:
        template = Template.from_cbor(path.read_bytes())
        reordered = Template(template.width, template.height, tuple(reversed(template.minutiae)))
        assert reordered == template


def test_shuffled_order_matches_the_transparency_record():
    for case in ("101_1.tif", "101_2.tif", "102_1.tif"):
        folder = GOLDEN / "transparency" / f"extract-{case}"
        record = cbor2.loads(read_bytes(folder / "shuffled-minutiae.cbor"))
        # Build from the top-minutiae (unshuffled) list and expect the recorded order.
        top = cbor2.loads(read_bytes(folder / "top-minutiae.cbor"))
        template = Template(
            top["size"]["x"],
            top["size"]["y"],
            tuple(
                Minutia(m["position"]["x"], m["position"]["y"], m["direction"], MinutiaType[m["type"]])
                for m in top["minutiae"]
            ),
        )
        expected = [(m["position"]["x"], m["position"]["y"], m["direction"], m["type"]) for m in record["minutiae"]]
        assert [(m.x, m.y, m.direction, m.type.name) for m in template.minutiae] == expected


def test_round_trip_of_a_built_template():
    template = Template(
        300,
        400,
        (
            Minutia(5, 7, 1.25, MinutiaType.ENDING),
            Minutia(-3, 9999, 0.0, MinutiaType.BIFURCATION),
            Minutia(120, 45, 6.2831850, MinutiaType.ENDING),
        ),
    )
    again = Template.from_cbor(template.to_cbor())
    assert again == template
    assert cbor2.loads(template.to_cbor())["version"] == TEMPLATE_VERSION


def test_directions_are_float32_values():
    minutia = Minutia(1, 2, 0.1, MinutiaType.ENDING)
    assert minutia.direction == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert minutia.direction != 0.1


def test_float64_directions_are_rounded_like_java_reads_them():
    document = _valid()
    document["directions"] = [0.1, 6.0]
    template = Template.from_cbor(_encode(document))
    (first,) = [m for m in template.minutiae if m.x == 10]
    assert first.direction == struct.unpack("<f", struct.pack("<f", 0.1))[0]


def test_empty_template_is_valid():
    document = _valid()
    document.update(positionsX=[], positionsY=[], directions=[], types="")
    assert Template.from_cbor(_encode(document)).minutiae == ()


def _refused(data: bytes, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Template.from_cbor(data)
    assert fragment in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda d: d.update(positionsY=[30]), "lengths must agree"),
        (lambda d: d.update(directions=[0.5]), "lengths must agree"),
        (lambda d: d.update(types="E"), "lengths must agree"),
        (lambda d: d.update(positionsX=[10, 10001]), "out of range"),
        (lambda d: d.update(positionsY=[-10001, 3]), "out of range"),
        (lambda d: d.update(positionsX=[10, 2.5]), "not an integer"),
        (lambda d: d.update(positionsX=[True, 2]), "not an integer"),
        (lambda d: d.update(positionsX="ab"), "must be an array"),
        (lambda d: d.update(directions=[0.5, math.nan]), "directions[1] is nan"),
        (lambda d: d.update(directions=[math.inf, 0.5]), "directions[0] is inf"),
        (lambda d: d.update(directions=[-0.5, 0.5]), "outside [0, 2π)"),
        (lambda d: d.update(directions=[0.5, 2 * math.pi]), "outside [0, 2π)"),
        (lambda d: d.update(directions=[0.5, 1]), "not a float"),
        (lambda d: d.update(directions=[0.5, 1e300]), "directions[1] = inf is outside"),
        (lambda d: d.update(types="EX"), "expected 'E' or 'B'"),
        (lambda d: d.update(types=["E", "B"]), "types must be a text string"),
        (lambda d: d.update(width=-1), "width must be an integer"),
        (lambda d: d.update(height=40000), "height must be an integer"),
        (lambda d: d.update(height="big"), "height must be an integer"),
        (lambda d: d.update(version=5), "version"),
        (lambda d: d.update(extra=1), "unknown keys extra"),
        (lambda d: d.pop("types"), "missing keys types"),
        (lambda d: d.pop("width"), "missing keys width"),
    ],
)
def test_bad_content_is_refused_with_a_clear_message(change, fragment):
    document = _valid()
    change(document)
    _refused(_encode(document), fragment)


def test_direction_just_below_two_pi_is_accepted():
    document = _valid()
    below = struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", PI2_FLOAT32))[0] - 1))[0]
    document["directions"] = [0.5, below]
    assert max(m.direction for m in Template.from_cbor(_encode(document)).minutiae) == below


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "input is empty"),
        (_encode(_valid()) + b"\x00", "trailing bytes"),
        (_encode(_valid())[:-3], "truncated"),
        (cbor2.dumps([1, 2, 3]), "expected a CBOR map"),
        (cbor2.dumps("text"), "expected a CBOR map"),
        (b"\xbf\x01\x02\xff", "map key at offset 1 is not text"),
        # Array header claiming 2^32 - 1 items with nothing behind it.
        (b"\xa1\x6apositionsX\x9a\xff\xff\xff\xff", "does not fit"),
        # 64-bit text length.
        (b"\xa1\x7b\x00\x00\x00\x01\x00\x00\x00\x00", "truncated"),
        # Deeply nested arrays (a nesting bomb).
        (b"\xa1\x6apositionsX" + b"\x81" * 10_000 + b"\x00", "nesting deeper"),
        (b"\xa1\x6apositionsX" + b"\x9f" * 10_000, "nesting deeper"),
        (b"\xc1\x00", "tags are not accepted"),
        (b"\xa1\x7f\x61a\xff\x00", "indefinite-length strings"),
        (b"\xa2\x65width\x01\x65width\x02", "duplicate map key 'width'"),
        (b"\xa1\x65width\xff", "has no value"),
        (b"\xa1\x65width\x1c", "reserved additional information"),
        (b"\xa1\x65width\xf7", "unsupported simple value"),
        (b"\xa1\x62\xff\xfe\x00", "not valid UTF-8"),
        (b"\x00" * (2 << 20), "more than the limit"),
    ],
)
def test_malformed_cbor_is_refused_with_a_clear_message(data, fragment):
    _refused(data, fragment)


def test_huge_indefinite_array_is_bounded():
    # 200,000 one-byte items: more items than any template could hold.
    data = b"\xa1\x6apositionsX\x9f" + b"\x00" * 200_000 + b"\xff"
    _refused(data, "too many CBOR items")


def test_too_many_minutiae_are_refused():
    count = MAX_MINUTIAE + 1
    document = _valid()
    document.update(positionsX=[1] * count, positionsY=[1] * count, directions=[1.0] * count, types="E" * count)
    _refused(_encode(document), "more than the limit")


def test_non_bytes_input_is_refused():
    with pytest.raises(TemplateError, match="expected bytes"):
        Template.from_cbor("not bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_golden_templates_either_parse_or_fail_cleanly(data):
    raw = bytearray((GOLDEN / "templates" / "101_1.tif.cbor").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        template = Template.from_cbor(bytes(raw[:cut]))
    except TemplateError:
        return
    for minutia in template.minutiae:
        assert abs(minutia.x) <= 10_000 and abs(minutia.y) <= 10_000
        assert 0 <= minutia.direction < PI2_FLOAT32


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_other_errors(raw):
    try:
        Template.from_cbor(raw)
    except TemplateError:
        pass


_minutiae = st.builds(
    Minutia,
    st.integers(-10_000, 10_000),
    st.integers(-10_000, 10_000),
    st.floats(0, 6.283180236816406, allow_nan=False, width=32),
    st.sampled_from(MinutiaType),
)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 32767), st.integers(0, 32767), st.lists(_minutiae, max_size=40))
def test_any_valid_template_round_trips(width, height, minutiae):
    template = Template(width, height, tuple(minutiae))
    assert Template.from_cbor(template.to_cbor()) == template
