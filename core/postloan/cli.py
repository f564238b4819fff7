"""`loanctl loans import FILE`: take existing loans into post-loan management."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_import(args: argparse.Namespace) -> int:
    from ..cli import CommandError, _config
    from ..context import Services
    from .importer import ImportFileError, import_loans, read_rows

    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        rows = read_rows(path)
    except ImportFileError as error:
        raise CommandError(str(error)) from None
    config = _config(args)

    async def run():
        services = Services.build(config)
        try:
            await services.start()
            async with services.db.unit_of_work() as session:
                return await import_loans(session, services.workflow, rows, dry_run=args.dry_run,
                                          skip_bad_rows=args.skip_bad_rows,
                                          progress=_progress if sys.stderr.isatty() or args.progress else
                                          (lambda d, t: None))
        finally:
            await services.db.close()
    report = asyncio.run(run())
    for error in report.errors:
        print(f"{path.name}: {error}", file=sys.stderr)
    good = report.rows - len(report.bad_rows)
    if report.dry_run:
        print(f"dry run: {report.rows} rows, {good} would be imported, {len(report.bad_rows)} bad; nothing written")
        return 1 if report.errors else 0
    if not report.written:
        print(f"nothing imported: {len(report.bad_rows)} of {report.rows} rows are bad "
              "(fix them, or use --skip-bad-rows)", file=sys.stderr)
        return 1
    skipped = f", {len(report.bad_rows)} bad rows skipped" if report.bad_rows else ""
    print(f"imported {len(report.imported)} loans{skipped}; they count once a manager has checked them")
    return 0


def register(commands) -> None:
    loans = commands.add_parser("loans", help="loans on the books (post-loan management)")
    sub = loans.add_subparsers(dest="loans_command", metavar="ACTION")
    sub.required = True
    imp = sub.add_parser("import", help="import existing loans from a CSV or Excel (.xlsx) file")
    imp.add_argument("file", help="columns: contract_no, customer_name, id_number, phone, product, amount, "
                     "outstanding, term_months, disbursed_on, maturity_on, office_code, manager")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument("--skip-bad-rows", action="store_true", help="import the good rows even if some are bad")
    imp.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    imp.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    imp.set_defaults(run=cmd_import)
