"""Tables of the dashboard as CSV or Excel (openpyxl) downloads."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Mapping, Sequence


def to_csv(rows: Sequence[Mapping], columns: Sequence[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    # A BOM so that Excel opens the Chinese text as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets: Iterable[tuple[str, Sequence[Mapping], Sequence[str]]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows, columns in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(list(columns))
        for row in rows:
            sheet.append([row.get(c, "") for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
