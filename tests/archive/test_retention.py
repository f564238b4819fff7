from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from recordings.retention import (
    RetainedRecord,
    RetentionConfigError,
    RetentionError,
    RetentionSettings,
)

UTC = timezone.utc
FILED = datetime(2026, 3, 1, tzinfo=UTC)
CLOSED = datetime(2028, 2, 29, 10, tzinfo=UTC)


def test_credit_file_kept_thirty_years_after_close() -> None:
    settings = RetentionSettings.default()
    page = RetainedRecord("document_page", FILED, CLOSED)
    end = settings.retention_end(page)
    assert end == datetime(2058, 2, 28, 10, tzinfo=UTC)  # 29 Feb has no 2058 twin
    assert not settings.may_delete(page, end - timedelta(seconds=1))
    with pytest.raises(RetentionError, match="kept until 2058"):
        settings.ensure_deletable(page, end - timedelta(days=1))
    assert settings.may_delete(page, end)
    settings.ensure_deletable(page, end)


def test_open_loan_and_legal_hold_are_never_deletable() -> None:
    settings = RetentionSettings.default()
    far = datetime(2200, 1, 1, tzinfo=UTC)
    with pytest.raises(RetentionError, match="not closed"):
        settings.ensure_deletable(RetainedRecord("recording", FILED, None), far)
    with pytest.raises(RetentionError, match="legal hold"):
        settings.ensure_deletable(RetainedRecord("recording", FILED, CLOSED, legal_hold=True), far)


def test_fingerprint_records_and_unknown_kinds() -> None:
    settings = RetentionSettings.default()
    record = RetainedRecord("fingerprint_record", FILED, CLOSED)
    assert settings.retention_end(record) == datetime(2033, 2, 28, 10, tzinfo=UTC)
    with pytest.raises(RetentionError, match="no retention rule"):
        settings.ensure_deletable(RetainedRecord("mystery", FILED, CLOSED), datetime(2200, 1, 1, tzinfo=UTC))


def test_settings_from_configuration() -> None:
    settings = RetentionSettings.from_mapping(
        {"recording": {"years": 10}, "scratch_note": {"years": 1, "after": "filed"}}
    )
    assert settings.retention_end(RetainedRecord("recording", FILED, CLOSED)).year == 2038
    assert settings.retention_end(RetainedRecord("scratch_note", FILED)) == datetime(2027, 3, 1, tzinfo=UTC)
    assert settings.rules["document_page"].years == 30  # defaults kept
    for bad in ({"recording": {"years": 0}}, {"recording": {"years": 5, "after": "whenever"}},
                {"recording": 5}, {"recording": {"years": 5, "delete": True}}):
        with pytest.raises(RetentionConfigError):
            RetentionSettings.from_mapping(bad)


def test_naive_times_are_refused() -> None:
    with pytest.raises(RetentionError):
        RetentionSettings.default().ensure_deletable(
            RetainedRecord("document_page", datetime(2026, 1, 1), CLOSED), datetime(2100, 1, 1)
        )
