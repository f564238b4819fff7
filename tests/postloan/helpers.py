"""Shared steps of the post-loan tests: a loan disbursed on a chosen day, pages to file."""
from __future__ import annotations

import base64
import datetime as dt

from tests.archive.samples import pdf
from tests.loans.walk import PRODUCTS, Walk

# A real one-page scan: record pages pass the same content check as every upload.
PDF = pdf(1, "inspection")


def page(name: str = "scan.pdf") -> dict:
    return {"filename": name, "media_type": "application/pdf", "content_base64": base64.b64encode(PDF).decode()}


async def disbursed(suite, disbursed_on: dt.date, product: str = "personal_consumer") -> Walk:
    walk = await Walk(suite, product).start()
    await walk.apply()
    await walk.walk_to("disbursement")
    await walk.flag("fingerprints_matched")
    amount = PRODUCTS[product][0]
    await walk.do("accountant.cg", "disburse", {"amount": amount, "account": "6217000000000001",
                                                "voucher_no": f"V-{walk.loan_id}",
                                                "disbursed_on": disbursed_on.isoformat()})
    return walk
