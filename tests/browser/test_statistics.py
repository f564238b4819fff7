"""Statistics people read at a glance: charts with a value axis, values, legends and units;
trends by month, office and product; time in stage against its deadline; tables with headers
and units — in the reader's language."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from core.insight.charts import bar_chart, nice_ticks
from tests.loans.walk import Walk
from tests.suite import start_suite, suite_config


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


def test_a_chart_has_an_axis_values_and_a_legend():
    svg = bar_chart("按机构", ["城关信用社", "河口信用社"], [("申请（笔）", [3, 12]), ("批准（笔）", [1, 7])], unit="笔")
    ticks = [t.replace(",", "") for t in re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)]
    assert ticks[0] == "0" and float(ticks[-1]) >= 12 and len(ticks) >= 3  # the value axis reaches the peak
    assert re.findall(r'<text class="value"[^>]*>([^<]+)</text>', svg) == ["3", "1", "12", "7"]
    assert re.findall(r'<text class="legend"[^>]*>([^<]+)</text>', svg) == ["申请（笔）", "批准（笔）"]
    assert '<text class="axis-unit"' in svg and ">笔</text>" in svg
    assert nice_ticks(0) == [0, 1] and nice_ticks(9) == [0, 2, 4, 6, 8, 10]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_dashboard_shows_trends_and_time_in_stage_against_deadlines(suite):
    for n, product in enumerate(("personal_consumer", "personal_business")):
        walk = await Walk(suite, product).start()
        await walk.apply(name=f"客户{n}", id_number=f"11010119900101{n:03d}4")
        await walk.walk_to("review")
    chairman = await suite.login("chairman")
    chairman.client.session.cookie_jar.update_cookies({"lang": "zh"})
    html = await (await chairman.request("GET", "/insight")).text()
    charts = re.findall(r'<figure data-testid="chart" class="chart">(.*?)</figure>', html, re.S)
    titles = [re.search(r"<title>([^<]+)</title>", c).group(1) for c in charts]
    assert titles[:4] == ["按月份", "按月份：申请金额", "按机构", "按贷款品种"] and "环节用时与时限" in titles
    for chart in charts:
        assert '<text class="tick"' in chart and '<text class="legend"' in chart and 'class="axis-unit"' in chart
    by_product = charts[titles.index("按贷款品种")]
    assert "个人消费贷款" in by_product or "消费" in by_product  # products by name, not code
    timed = charts[titles.index("环节用时与时限")]
    assert "时限（小时）" in timed and "平均用时（小时）" in timed and "待初审" in timed

    # every table has its header row, amounts and counts say their unit
    tables = re.findall(r"<table[^>]*>(.*?)</table>", html, re.S)
    assert tables and all("<thead>" in table for table in tables)
    assert "金额（元）" in html and "申请（笔）" in html and "平均用时（小时）" in html
    stage_times = re.search(r'data-testid="stage-times">(.*?)</table>', html, re.S).group(1)
    assert "1 个工作日" in stage_times and "working" not in stage_times

    english = await suite.login("chairman")
    english.client.session.cookie_jar.update_cookies({"lang": "en"})
    html = await (await english.request("GET", "/insight")).text()
    assert "By month" in html and "Applications (cases)" in html and "1 working day" in html
    assert "East Intake Sub-center" in html or "Intake" in html  # offices by their English names

    # the page's downloads: the same figures, headed and named as on the page
    csv = await (await chairman.request("GET", "/insight/export?format=csv&table=by_product")).read()
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0] == "贷款品种,申请（笔）,批准（笔）,拒绝（笔）,金额（元）"
    assert any(line.startswith("个人消费贷款,1,") for line in lines[1:]), lines
    xlsx = await (await english.request("GET", "/insight/export?format=xlsx")).read()
    book = load_workbook(io.BytesIO(xlsx))
    assert "By month" in book.sheetnames and book["By month"]["E1"].value == "Amount (CNY)"
    assert book["By month"]["B2"].value == 2
    officer = await suite.login("officer.e.a")
    assert (await officer.request("GET", "/insight/export?format=xlsx")).status == 403
