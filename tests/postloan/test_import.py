"""`loanctl loans import`: all or nothing, dry run, per-row errors, Excel, and the manager's check."""
import asyncio
import csv
import datetime as dt

from openpyxl import Workbook
from sqlalchemy import func, select

from core.cli import main
from core.orm import Loan
from core.postloan.tables import DueTask, ManagedLoan
from core.postloan.importer import COLUMNS

GOOD = [
    ["HT2024001", "李四", "110101198001011111", "13900000001", "personal_business", "300000.00", "250000.00", "36",
     "2024-06-10", "2027-06-10", "CU-CG", "postloan.cg"],
    ["HT2024002", "王五", "110101198001012222", "13900000002", "working_capital", "1000000", "1000000", "24",
     "2025-01-15", "2027-01-15", "CU-HK", "postloan.hk"],
]
BAD = ["HT2024003", "赵六", "110101198001013333", "", "no_such_product", "10万", "0", "12",
       "2025-13-01", "2026-01-01", "CU-CG", "officer.cg"]


def write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


async def run_cli(monkeypatch, database_url, tmp_path, *argv) -> int:
    monkeypatch.setenv("LOANCTL_DATABASE_URL", database_url)
    return await asyncio.to_thread(main, ["loans", "import", *argv, "--data", str(tmp_path / "data")])


async def imported_count(suite) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(ManagedLoan))).scalar_one()


async def test_a_bad_row_is_reported_and_nothing_is_imported(suite, database_url, tmp_path, monkeypatch, capsys):
    path = write_csv(tmp_path / "loans.csv", [GOOD[0], BAD, GOOD[1]])
    assert await run_cli(monkeypatch, database_url, tmp_path, str(path)) == 1
    err = capsys.readouterr().err
    assert "row 3, product" in err and "row 3, amount" in err and "row 3, disbursed_on" in err
    assert "row 3, manager: 'officer.cg' is not an active post-loan manager" in err
    assert "row 2" not in err and "nothing imported" in err
    assert await imported_count(suite) == 0

    assert await run_cli(monkeypatch, database_url, tmp_path, str(path), "--dry-run") == 1
    assert "2 would be imported, 1 bad; nothing written" in capsys.readouterr().out
    assert await imported_count(suite) == 0

    assert await run_cli(monkeypatch, database_url, tmp_path, str(path), "--skip-bad-rows", "--progress") == 0
    captured = capsys.readouterr()
    assert "imported 2 loans, 1 bad rows skipped" in captured.out and "2/2" in captured.err
    assert await imported_count(suite) == 2
    # the same file again: every contract is already in the system, nothing doubles
    assert await run_cli(monkeypatch, database_url, tmp_path, str(path)) == 1
    assert "already a loan in the system" in capsys.readouterr().err
    assert await imported_count(suite) == 2


async def test_excel_import_counts_only_after_a_manager_checks_it(suite, database_url, tmp_path, monkeypatch):
    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    row = list(GOOD[0])
    row[8], row[9] = dt.date(2024, 6, 10), dt.date(2027, 6, 10)  # real Excel dates
    sheet.append(row)
    book.save(tmp_path / "loans.xlsx")
    assert await run_cli(monkeypatch, database_url, tmp_path, str(tmp_path / "loans.xlsx")) == 0
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = (await session.execute(select(Loan).where(Loan.tracking_code == "HT2024001"))).scalar_one()
        managed = await session.get(ManagedLoan, loan.id)
        tasks = (await session.execute(select(func.count()).where(DueTask.loan_id == loan.id))).scalar_one()
    assert managed.outstanding_fen == 25_000_000 and managed.maturity_on == dt.date(2027, 6, 10)
    assert not managed.checked and tasks > 0

    chairman = await suite.login("chairman")
    before = await chairman.json("GET", "/api/insight/dashboard?days=3650")
    assert sum(r["applications"] for r in before["by_office"]) == 0
    # a manager outside the loan's subtree cannot see or check it; the right one can, once
    await (await suite.login("manager.hk")).json("POST", f"/api/postloan/loans/{loan.id}/check", expect=404)
    cg = await suite.login("manager.cg")
    assert [i["tracking_code"] for i in (await cg.json("GET", "/api/postloan/imports"))["items"]] == ["HT2024001"]
    await cg.json("POST", f"/api/postloan/loans/{loan.id}/check")
    await cg.json("POST", f"/api/postloan/loans/{loan.id}/check", expect=409)
    after = await chairman.json("GET", "/api/insight/dashboard?days=3650")
    assert sum(r["applications"] for r in after["by_office"]) == 1
    # the assigned post-loan manager sees it on the desk and may file its records
    desk = await (await suite.login("postloan.cg")).json("GET", "/api/postloan/loans")
    assert [i["tracking_code"] for i in desk["items"]] == ["HT2024001"]


async def test_unreadable_files_are_refused(tmp_path, capsys):
    (tmp_path / "loans.txt").write_text("x")
    assert await asyncio.to_thread(main, ["loans", "import", str(tmp_path / "loans.txt")]) == 2
    assert "only .csv and .xlsx" in capsys.readouterr().err
    (tmp_path / "short.csv").write_text("contract_no,amount\n1,2\n")
    assert await asyncio.to_thread(main, ["loans", "import", str(tmp_path / "short.csv")]) == 2
    assert "missing columns" in capsys.readouterr().err
