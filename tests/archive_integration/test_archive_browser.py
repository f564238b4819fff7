"""In a real browser: an archivist finds a loan, opens its committee recording and plays and
seeks it; an officer uploads scanned pages from the loan page (tus, with progress)."""
from __future__ import annotations

import time

import pytest

from tests.archive.samples import jpeg, pdf
from tests.archive_integration.helpers import file_over_api, meeting_manifest, webm_with_motion
from tests.suite import sign_in_page

# Only SQLite: the browser side does not depend on the database, and Chromium is slow enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_archivist_finds_a_loan_and_plays_and_seeks_its_recording(suite, browser, tmp_path):
    loan_id = await suite.add_loan(office="CU-CG", stage="active", customer="赵六", officer_a="officer.cg")
    video = webm_with_motion(tmp_path / "composite.webm", seconds=4.0)
    recording = await file_over_api(suite, loan_id, "recording", video, "贷审会合成录像",
                                    media_type="video/webm", meeting_id="M-2026-031")
    manifest = meeting_manifest("M-2026-031", time.time() - 3600, recording["digest"])
    await file_over_api(suite, loan_id, "recording_manifest", manifest, "贷审会录像清单",
                        media_type="application/json", meeting_id="M-2026-031")
    base = str(suite.server.make_url("")).rstrip("/")

    page = await sign_in_page(browser, base, "archivist")
    await page.goto(f"{base}/archive")
    await page.fill("input[name=meeting_id]", "M-2026-031")
    await page.click("[data-testid=archive-search] button[type=submit]")
    results = page.locator("[data-testid=archive-results]")
    await results.wait_for()
    assert "赵六" in await results.inner_text()
    await page.click("[data-testid=archive-result]")
    await page.wait_for_url(f"{base}/archive/loans/{loan_id}")
    assert await page.get_attribute("[data-testid=verification]", "data-status") == "intact"
    await page.click("[data-testid=play-recording]")
    await page.wait_for_url(f"{base}/archive/loans/{loan_id}/recordings/{recording['entry_id']}")

    # The timeline from the manifest: joins, phase changes, a leave, the close.
    await page.wait_for_selector("[data-testid=timeline][data-ready=true]")
    kinds = await page.eval_on_selector_all("[data-testid=timeline] li", "items => items.map(i => i.dataset.type)")
    assert kinds == ["join", "phase", "join", "phase", "leave", "closed"]

    played = await page.evaluate("""async () => {
        const video = document.querySelector('video[data-player]');
        video.muted = true;
        await video.play();
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('video did not advance: ' + video.currentTime)), 10000);
            const check = () => video.currentTime > 0.5 ? (clearTimeout(timer), resolve()) : requestAnimationFrame(check);
            check();
        });
        return {time: video.currentTime, frames: video.getVideoPlaybackQuality().totalVideoFrames,
                duration: video.duration, width: video.videoWidth};
    }""")
    assert played["time"] > 0.5 and played["frames"] > 0 and played["width"] == 160
    assert 3.5 < played["duration"] < 4.5

    # Seek by the timeline: the "voting" phase is 2 s into the meeting.
    seeked = await page.evaluate("""async () => {
        const video = document.querySelector('video[data-player]');
        video.pause();
        const before = video.getVideoPlaybackQuality().totalVideoFrames;
        const done = new Promise((resolve) => video.addEventListener('seeked', resolve, {once: true}));
        document.querySelectorAll('[data-testid=timeline] li')[3].querySelector('button').click();
        await done;
        const framed = await new Promise((resolve) => video.requestVideoFrameCallback((now, meta) => resolve(meta.mediaTime)));
        return {time: video.currentTime, mediaTime: framed, before,
                after: video.getVideoPlaybackQuality().totalVideoFrames};
    }""")
    assert 1.9 <= seeked["time"] <= 2.6, seeked
    assert seeked["mediaTime"] >= 1.9 and seeked["after"] > seeked["before"], seeked


async def test_officer_uploads_scanned_pages_from_the_loan_page(suite, browser, tmp_path):
    loan_id = await suite.add_loan(office="SC-E", stage="investigation", customer="孙七",
                                   officer_a="officer.e.a", officer_b="officer.e.b")
    scans = [tmp_path / "report-1.jpg", tmp_path / "report-2.pdf"]
    scans[0].write_bytes(jpeg("report page one"))
    scans[1].write_bytes(pdf(2, "report"))
    base = str(suite.server.make_url("")).rstrip("/")
    page = await sign_in_page(browser, base, "officer.e.a")
    await page.goto(f"{base}/loans/{loan_id}")
    panel = page.locator("[data-testid=upload-panel]")
    await panel.locator("select[name=code] option[value=INV-REPORT]").wait_for(state="attached")
    await panel.locator("select[name=code]").select_option("INV-REPORT")
    # The link drops on the first PATCH: upload.js waits, asks the server's offset and goes on.
    dropped, checksums = [], []

    async def drop_first_patch(route):
        if route.request.method == "PATCH":
            checksums.append(route.request.headers.get("upload-checksum", ""))
        if route.request.method == "PATCH" and not dropped:
            dropped.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()
    await page.route("**/api/uploads/**", drop_first_patch)
    await panel.locator("input[name=files]").set_input_files([str(p) for p in scans])
    await panel.locator("button[type=submit]").click()
    await page.wait_for_selector("[data-testid=filed-pages] li[data-page='2']")
    states = await page.eval_on_selector_all("[data-testid=uploads] li", "items => items.map(i => i.dataset.state)")
    assert states == ["filed", "filed"]
    assert await page.eval_on_selector_all("[data-testid=uploads] progress", "bars => bars.map(b => b.value)") == [1, 1]
    filed = await page.eval_on_selector_all("[data-testid=filed-pages] li",
                                            "items => items.map(i => [i.dataset.code, i.dataset.page])")
    assert filed == [["INV-REPORT", "1"], ["INV-REPORT", "2"]]
    assert len(dropped) == 1
    # Every chunk carried its SHA-256 (tus checksum extension), which the server checked.
    assert checksums and all(c.startswith("sha256 ") for c in checksums)
    # A file that is not a scan is refused with its reason and nothing is filed.
    bogus = tmp_path / "virus.pdf"
    bogus.write_bytes(b"MZ" + bytes(300))
    await panel.locator("input[name=files]").set_input_files(str(bogus))
    await panel.locator("button[type=submit]").click()
    await page.wait_for_selector("[data-testid=uploads] li[data-state=failed]")
    assert len(await page.query_selector_all("[data-testid=filed-pages] li")) == 2
