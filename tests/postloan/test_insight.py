"""Dashboards: each role sees only its scope; the chairman sees everything; exports and chart."""
import datetime as dt
import io

from openpyxl import load_workbook


async def test_each_role_sees_only_its_subtree(suite):
    cg = [await suite.add_loan(office="CU-CG", stage="review", officer_a="officer.cg", amount_fen=1_000_000)
          for _ in range(3)]
    hk = [await suite.add_loan(office="CU-HK", stage="rejected", officer_a="officer.hk", amount_fen=2_000_000)
          for _ in range(2)]
    chairman = await (await suite.login("chairman")).json("GET", "/api/insight/dashboard")
    cg_view = await (await suite.login("manager.cg")).json("GET", "/api/insight/dashboard")
    hk_view = await (await suite.login("manager.hk")).json("GET", "/api/insight/dashboard")

    def total(view, key="applications"):
        return sum(r[key] for r in view["by_office"])
    assert total(chairman) == 5 and total(chairman, "rejected") == 2
    month = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    assert [(r["key"], r["applications"]) for r in chairman["by_month"]] == [(month, 5)]
    assert {r["key"]: r["applications"] for r in chairman["by_stage"]} == {"review": 3, "rejected": 2}
    assert total(cg_view) == 3 and [r["key"] for r in cg_view["by_office"]] == ["城关信用社"]
    assert total(hk_view) == 2 and total(hk_view, "rejected") == 2 and total(hk_view, "amount_fen") == 4_000_000
    assert {o["officer"] for o in cg_view["officers"]} == {"客户经理 何勇 (城关社)"}
    assert all(r["office"] == "河口信用社" for r in hk_view["supervision"]) and hk_view["supervision"] == []
    assert sum(r["cases"] for r in cg_view["supervision"]) == 3
    assert len(cg) == 3 and len(hk) == 2
    await (await suite.login("officer.cg")).json("GET", "/api/insight/dashboard", expect=403)


async def test_chart_and_exports(suite):
    await suite.add_loan(office="CU-CG", stage="review", officer_a="officer.cg")
    client = await suite.login("chairman")
    svg = await client.request("GET", "/api/insight/chart.svg")
    text = await svg.text()
    assert svg.content_type == "image/svg+xml" and text.startswith("<svg") and 'class="bar"' in text
    csv = await client.request("GET", "/api/insight/export?format=csv&table=by_office")
    assert (await csv.read()).decode("utf-8-sig").splitlines()[1].startswith("城关信用社,1,")
    xlsx = await client.request("GET", "/api/insight/export?format=xlsx")
    book = load_workbook(io.BytesIO(await xlsx.read()))
    assert "supervision" in book.sheetnames and book["by_office"]["A2"].value == "城关信用社"
    await client.json("GET", "/api/insight/export?format=csv", expect=422)


async def test_the_dashboard_is_kept_until_the_data_changes(suite):
    """The figures are computed once per data version (the newest audit record of a change) and
    reader's offices: a second read is served from the cache; a command (audited) makes the next read
    compute again and show it; a branch manager never gets the chairman's figures; a kept answer
    expires after its minute; what a caller changes in its copy never reaches the cache."""
    from core.identity import Principal
    from core.insight.cache import FiguresCache
    from core.orm import Office, utcnow
    from core.scope import Scope
    from tests.loans.walk import Walk

    cache = suite.services.figures_cache
    walk = await Walk(suite).start()
    await walk.apply()
    chairman = await suite.login("chairman")
    manager = await suite.login("manager.hk")  # the case is at the intake center, outside 河口支行
    first = await chairman.json("GET", "/api/insight/dashboard")
    hits, misses = cache.hits, cache.misses
    await suite.login("officer.e.a")  # a sign-in is audited, but changes no figure
    again = await chairman.json("GET", "/api/insight/dashboard")
    assert again == first and (cache.hits, cache.misses) == (hits + 1, misses)
    branch = await manager.json("GET", "/api/insight/dashboard")
    assert cache.misses == misses + 1 and sum(r["applications"] for r in branch["by_office"]) == 0
    assert sum(r["applications"] for r in first["by_office"]) == 1

    await walk.walk_to("main_review")  # audited commands: a new data version
    after = await chairman.json("GET", "/api/insight/dashboard")
    assert cache.misses == misses + 2
    assert {r["key"]: r["applications"] for r in after["by_stage"]} == {"main_review": 1}

    fresh = FiguresCache(max_age=60)
    calls = []

    async def compute():
        calls.append(1)
        return {"rows": [1, 2]}
    offices, users = await suite.ids()
    async with suite.services.db.unit_of_work(write=False) as session:
        path = (await session.get(Office, offices["HO"])).path
        whole = Scope(Principal(users["chairman"], "chairman", "chairman", offices["HO"], path, frozenset({"chairman"})))
        now = utcnow()
        mine = await fresh.get(session, whole, now, ("k",), compute)
        mine["rows"].append(3)  # the caller's copy is its own
        assert await fresh.get(session, whole, now + dt.timedelta(seconds=59), ("k",), compute) == {"rows": [1, 2]}
        assert len(calls) == 1
        await fresh.get(session, whole, now + dt.timedelta(seconds=61), ("k",), compute)  # expired
        assert len(calls) == 2
