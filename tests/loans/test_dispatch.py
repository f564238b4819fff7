"""Dispatch rules (派单): existing customers to their credit union, new ones to a sub-center pair."""
from __future__ import annotations

from tests.loans.walk import Walk


async def test_new_customer_goes_to_a_sub_center_pair(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    intake = await walk.as_("intake.head")
    suggestion = await intake.json("GET", f"/api/loans/{walk.loan_id}/dispatch-suggestion")
    assert suggestion["route"] == "sub_center"
    assert suggestion["office_id"] in (walk.offices["SC-E"], walk.offices["SC-W"])
    assert suggestion["officer_a"] != suggestion["officer_b"]
    by_region = await intake.json("GET", f"/api/loans/{walk.loan_id}/dispatch-suggestion?region=河口")
    assert by_region["office_id"] == walk.offices["SC-W"]


async def test_existing_customer_goes_to_their_credit_union(suite):
    first = await Walk(suite).start()
    await first.apply()
    await first.walk_to("closed")  # disbursed by the Chengguan credit union, then repaid
    second = await Walk(suite).start()
    applied = await second.apply()
    assert "existing_customer" in applied["flags"]
    await second.walk_to("dispatch")
    intake = await second.as_("intake.head")
    suggestion = await intake.json("GET", f"/api/loans/{second.loan_id}/dispatch-suggestion")
    assert suggestion["route"] == "credit_union"
    assert suggestion["office_id"] == second.offices["CU-CG"]
    assert {suggestion["officer_a"], suggestion["officer_b"]} == {second.users["officer.cg"], second.users["officer.cg.b"]}


async def test_large_amount_goes_to_a_sub_center_even_for_existing_customers(suite):
    first = await Walk(suite).start()
    await first.apply()
    await first.walk_to("closed")
    big = await Walk(suite, "working_capital").start()
    await big.apply()
    await big.walk_to("dispatch")
    intake = await big.as_("intake.head")
    suggestion = await intake.json("GET", f"/api/loans/{big.loan_id}/dispatch-suggestion")
    assert suggestion["route"] == "sub_center" and suggestion["large_committee"]
