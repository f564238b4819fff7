"""Bounded work per process (issue 13, item 18): beyond `max_concurrent_requests` requests in
flight the excess is answered 503 with Retry-After at once, and /healthz stays fast (exempt)."""
from __future__ import annotations

import asyncio

from tests.archive.samples import pdf
from tests.archive_integration.helpers import create_upload
from tests.suite import start_suite, suite_config

LIMIT = 2


async def health(client) -> dict:
    response = await client.client.get("/healthz")
    assert response.status == 200
    return await response.json()


async def test_excess_requests_are_shed_with_503_and_health_stays_up(tmp_path, database_url):
    suite = await start_suite(suite_config(tmp_path, database_url, max_concurrent_requests=LIMIT))
    try:
        officer = await suite.login("officer.e.a")
        loan_id = await suite.add_loan(office="SC-E", stage="investigation", officer_a="officer.e.a",
                                       officer_b="officer.e.b")
        data = [pdf(2, f"slow {n}") for n in range(LIMIT)]
        locations = [await create_upload(officer, loan_id, "INV-REPORT", len(d)) for d in data]
        release = asyncio.Event()

        def slow_body(body: bytes):
            async def chunks():
                yield body[:100]
                await release.wait()  # the client holds the request open: work in flight
                yield body[100:]
            return chunks()

        held = [asyncio.create_task(officer.request("PATCH", location, data=slow_body(body), headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
            for location, body in zip(locations, data)]
        # Wait for the event: both requests admitted and being worked on.
        for _ in range(500):
            if (await health(officer))["requests_in_flight"] == LIMIT:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the slow uploads never reached the server")

        burst = await asyncio.gather(*(officer.request("GET", "/api/session") for _ in range(20)))
        for response in burst:
            assert response.status == 503
            assert (await response.json())["error"] == "overloaded" and int(response.headers["Retry-After"]) >= 1
        status = await health(officer)  # exempt, answers while the server is full
        assert status["status"] == "ok" and status["requests_in_flight"] == LIMIT and status["requests_shed"] >= 20

        release.set()
        assert [r.status for r in await asyncio.gather(*held)] == [204, 204]
        assert (await health(officer))["requests_in_flight"] == 0
        # An unbounded burst afterwards: each request is served or shed, never queued into a 5xx.
        burst = await asyncio.gather(*(officer.request("GET", "/api/session") for _ in range(30)))
        assert {r.status for r in burst} <= {200, 503}
        assert all(r.headers.get("Retry-After") for r in burst if r.status == 503)
        assert (await officer.request("GET", "/api/session")).status == 200
    finally:
        await suite.close()
