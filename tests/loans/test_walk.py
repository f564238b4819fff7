"""Every product through every stage, as the right people, over the HTTP API."""
from __future__ import annotations

import pytest

from tests.loans.walk import PRODUCTS, Walk

PATH = ["submitted", "main_review", "dispatch", "investigation", "investigation_check", "review", "committee",
        "committee_meeting", "approval_notice", "signing", "payment_first_review", "payment_second_review",
        "compliance_review", "disbursement", "active", "closed"]


@pytest.mark.parametrize("product", sorted(PRODUCTS))
async def test_each_product_walks_to_post_loan(suite, product):
    walk = await Walk(suite, product).start()
    applied = await walk.apply(id_number=f"11010119900101{sorted(PRODUCTS).index(product):04d}")
    assert applied["loan"]["stage"] == "submitted"
    seen = ["submitted"]
    while seen[-1] != "closed":
        seen.append(await walk.step())
    assert seen == PATH
    history = await (await walk.as_("chairman")).json("GET", f"/api/loans/{walk.loan_id}/history")
    assert [e["to"] for e in history["items"]] == PATH
    assert all(e["maker"] != "—" or e["action"] in ("committee_decision",) for e in history["items"])
