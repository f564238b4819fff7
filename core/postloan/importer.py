"""Import of loans already on the books (存量贷款导入) from CSV or Excel.

Every row is checked before anything is written; the import is one transaction, so a file
with a bad row imports nothing unless the caller asks to skip bad rows. Imported loans wait
for a manager's check before they count in figures or send reminders.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..orm import Customer, Loan, LoanParticipant, Office, User, UserRole
from .service import enroll

COLUMNS = ("contract_no", "customer_name", "id_number", "phone", "product", "amount", "outstanding",
           "term_months", "disbursed_on", "maturity_on", "office_code", "manager")
REQUIRED = tuple(c for c in COLUMNS if c != "phone")


class ImportFileError(ValueError):
    """The file cannot be read as an import file at all (format, header)."""


@dataclass(frozen=True)
class RowError:
    row: int  # the line in the file (header is row 1)
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    imported: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows as {column: text}; .csv (UTF-8, with or without BOM) or .xlsx."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                table = list(csv.reader(handle))
        except UnicodeDecodeError:
            raise ImportFileError(f"{path} is not UTF-8 text; save the CSV as UTF-8") from None
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        try:
            sheet = load_workbook(path, read_only=True, data_only=True).active
        except Exception as error:  # noqa: BLE001 - any failure means "not a workbook"
            raise ImportFileError(f"{path} is not a readable Excel workbook: {error}") from None
        table = [["" if v is None else (v.isoformat()[:10] if isinstance(v, (dt.date, dt.datetime)) else str(v))
                  for v in row] for row in sheet.iter_rows(values_only=True)]
    else:
        raise ImportFileError(f"{path}: only .csv and .xlsx files can be imported")
    if not table:
        raise ImportFileError(f"{path} is empty")
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(f"{path}: missing columns {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    return [{name: (row[i].strip() if i < len(row) and row[i] is not None else "") for i, name in enumerate(header)}
            for row in table[1:] if any(str(v).strip() for v in row)]


def _fen(text: str) -> int:
    value = Decimal(text.replace(",", ""))
    if value != value.quantize(Decimal("0.01")):
        raise InvalidOperation
    return int(value * 100)


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


async def _check(session: AsyncSession, rules, rows: list[dict[str, str]]) -> tuple[list[_Row], list[RowError]]:
    offices = dict((await session.execute(select(Office.code, Office.id))).all())
    managers = dict((await session.execute(
        select(User.username, User.id).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "post_loan_manager", User.active))).all())
    codes = [r.get("contract_no", "").upper() for r in rows]
    taken = set((await session.execute(select(Loan.tracking_code).where(Loan.tracking_code.in_(codes)))).scalars())
    seen: set[str] = set()
    good, errors = [], []
    for n, raw in enumerate(rows, start=2):
        problems: list[RowError] = []

        def bad(column: str, message: str) -> None:
            problems.append(RowError(n, column, message))
        for column in REQUIRED:
            if not raw.get(column):
                bad(column, "is empty")
        if problems:
            errors.extend(problems)
            continue
        code = raw["contract_no"].upper()
        if len(code) > 32:
            bad("contract_no", "at most 32 characters")
        elif code in taken:
            bad("contract_no", f"{code} is already a loan in the system")
        elif code in seen:
            bad("contract_no", f"{code} appears twice in the file")
        seen.add(code)
        values: dict[str, Any] = {"contract_no": code, "customer_name": raw["customer_name"][:100],
                                  "id_number": raw["id_number"].upper(), "phone": raw.get("phone", "")[:32]}
        for column in ("amount", "outstanding"):
            try:
                values[column] = _fen(raw[column])
                if values[column] < 0:
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                bad(column, f"{raw[column]!r} is not an amount in yuan (e.g. 150000.00)")
        if values.get("amount") is not None and values.get("outstanding") is not None \
                and values.get("outstanding", 0) > values.get("amount", 0):
            bad("outstanding", "is more than the amount lent")
        if values.get("amount") == 0:
            bad("amount", "must be positive")
        try:
            values["term_months"] = int(raw["term_months"])
            if not 1 <= values["term_months"] <= 600:
                raise ValueError
        except ValueError:
            bad("term_months", f"{raw['term_months']!r} is not a term of 1 to 600 months")
        for column in ("disbursed_on", "maturity_on"):
            try:
                values[column] = dt.date.fromisoformat(raw[column][:10])
            except ValueError:
                bad(column, f"{raw[column]!r} is not a date YYYY-MM-DD")
        if "disbursed_on" in values and "maturity_on" in values and values["maturity_on"] <= values["disbursed_on"]:
            bad("maturity_on", "must come after disbursed_on")
        if raw["office_code"] not in offices:
            bad("office_code", f"no office {raw['office_code']!r}")
        else:
            values["office_id"] = offices[raw["office_code"]]
        if raw["manager"] not in managers:
            bad("manager", f"{raw['manager']!r} is not an active post-loan manager")
        else:
            values["manager_id"] = managers[raw["manager"]]
        values["product"] = raw["product"]
        try:  # the rules in force at disbursement (the newest if the date itself is bad)
            version = rules.at(values["disbursed_on"]) if "disbursed_on" in values else rules.versions[-1]
            version.product(raw["product"])
        except LookupError as error:
            bad("product", str(error))
        if problems:
            errors.extend(problems)
        else:
            good.append(_Row(n, values))
    return good, errors


async def import_loans(session: AsyncSession, workflow, rows: list[dict[str, str]], *, dry_run: bool = False,
                       skip_bad_rows: bool = False, actor: audit.Actor | None = None,
                       progress: Callable[[int, int], None] = lambda done, total: None) -> ImportReport:
    """Check every row, then (unless dry run, or bad rows without skip) write them all in the caller's unit of work."""
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    good, report.errors = await _check(session, workflow.rules, rows)
    if dry_run or (report.errors and not skip_bad_rows):
        return report
    actor = actor or audit.Actor.system("loanctl import")
    version = workflow.current.version
    for done, row in enumerate(good, start=1):
        v = row.values
        customer = (await session.execute(select(Customer).where(Customer.id_number == v["id_number"]))).scalar_one_or_none()
        if customer is None:
            customer = Customer(name=v["customer_name"], id_number=v["id_number"], phone=v["phone"],
                                office_id=v["office_id"])
            session.add(customer)
            await session.flush()
        loan = Loan(tracking_code=v["contract_no"], customer_id=customer.id, product=v["product"],
                    amount_fen=v["amount"], term_months=v["term_months"], purpose="存量贷款导入", channel="import",
                    stage="active", office_id=v["office_id"], workflow_version=version,
                    assignments=json.dumps({"post_loan_manager": str(v["manager_id"])}),
                    flags=json.dumps(["imported"]))
        session.add(loan)
        await session.flush()
        session.add(LoanParticipant(loan_id=loan.id, user_id=v["manager_id"], duty="assigned"))
        await enroll(session, workflow.rules, loan, disbursed_on=v["disbursed_on"], principal_fen=v["amount"],
                     manager_id=v["manager_id"], origin="imported", maturity_on=v["maturity_on"],
                     outstanding_fen=v["outstanding"], checked=False)
        await audit.append(session, actor, "postloan.import", "loan", loan.id, {"contract_no": v["contract_no"]})
        report.imported.append(loan.id)
        progress(done, len(good))
    report.written = True
    return report
