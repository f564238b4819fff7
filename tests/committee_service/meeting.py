"""A loan at the committee stage and a convened meeting (participants: tests/committee/committee_peers.py)."""
from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass, field

import socketio

from core.orm import LoanDuty
from tests.suite import ApiClient, Suite
from tests.waiting import PATIENCE, limit

# One pool member reviewed this loan: the draw must exclude them, saying why.
CONFLICTED = "member05"


@dataclass
class Meeting:
    suite: Suite
    loan_id: int
    view: dict
    users: dict[str, int]
    names: dict[int, str] = field(default_factory=dict)
    clients: dict[str, ApiClient] = field(default_factory=dict)
    seats: dict[str, socketio.AsyncClient] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.view["id"]

    @property
    def code(self) -> str:
        return self.view["meeting_id"]

    def members(self) -> list[str]:
        return [self.names[p["user_id"]] for p in self.view["participants"] if p["role"] == "member" and p["active"]]

    async def as_(self, username: str) -> ApiClient:
        if username not in self.clients:
            self.clients[username] = await self.suite.login(username)
        return self.clients[username]

    async def get(self, username: str = "convener", expect: int = 200) -> dict:
        return await (await self.as_(username)).json("GET", f"/api/committee/meetings/{self.id}", expect=expect)

    async def phase(self, phase: str, expect: int = 200) -> dict:
        result = await (await self.as_("convener")).json(
            "POST", f"/api/committee/meetings/{self.id}/phase", {"phase": phase}, expect=expect)
        if expect == 200:
            self.view = result
        return result

    async def seat(self, *usernames: str) -> None:
        """Take these people's seats in the room (a Socket.IO connection with their join token,
        no media: presence is the connection) and wait until the meeting's record shows them."""
        url = str(self.suite.server.make_url("/")).rstrip("/")
        for name in usernames:
            await self.unseat(name)
            client = socketio.AsyncClient(reconnection=False)
            token = (await self.join_token(name))["token"]
            await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=PATIENCE)
            self.seats[name] = client
        await self.wait_present(*usernames)

    async def unseat(self, *usernames: str) -> None:
        for name in usernames:
            client = self.seats.pop(name, None)
            if client is not None and client.connected:
                await client.disconnect()

    async def seat_panel(self) -> None:
        await self.seat(*self.members())

    async def present(self) -> set[str]:
        view = await self.get()
        return {self.names[p["user_id"]] for p in view["participants"] if p["present"]}

    async def wait_present(self, *usernames: str, present: bool = True, timeout: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + limit(timeout)
        while True:
            here = await self.present()
            if all((name in here) == present for name in usernames):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"waiting for {usernames} present={present}; present: {sorted(here)}")
            await asyncio.sleep(0.1)

    async def leave_all(self) -> None:
        """Everyone seated leaves; returns once the meeting's record shows them gone."""
        names = list(self.seats)
        await self.unseat(*names)
        await self.wait_present(*names, present=False)

    async def to_voting(self) -> None:
        """Open, seat the whole panel (the default quorum), deliberate, vote."""
        await self.phase("open")
        await self.seat_panel()
        await self.phase("deliberation")
        await self.phase("voting")

    async def join_token(self, username: str, expect: int = 200) -> dict:
        return await (await self.as_(username)).json("POST", f"/api/committee/meetings/{self.id}/join", expect=expect)

    async def vote(self, username: str, choice: str = "approve", *, opinion: str = "同意，风险可控",
                   conditions: str = "", expect: int = 201, step_up: str | None = None) -> dict:
        body = {"choice": choice, "opinion": opinion, "nonce": secrets.token_urlsafe(18)}
        if conditions:
            body["conditions"] = conditions
        if step_up:
            body["step_up"] = step_up
        return await (await self.as_(username)).json(
            "POST", f"/api/committee/meetings/{self.id}/ballots", body, expect=expect)


async def convene(suite: Suite, *, step_up=None, meeting_at: dt.datetime | None = None) -> Meeting:
    """A personal loan placed at the committee stage (officers A and B of the east sub-center,
    member05 its reviewer), and the convener's meeting with its draw; by default the meeting's
    time has just come (deliberation may start once the panel is seated)."""
    offices, users = await suite.ids()
    loan_id = await suite.add_loan(office="SC-E", stage="committee", officer_a="officer.e.a", officer_b="officer.e.b")
    async with suite.services.db.unit_of_work() as session:
        session.add(LoanDuty(loan_id=loan_id, user_id=users[CONFLICTED], duty="review"))
    meeting = Meeting(suite, loan_id, {}, users, {v: k for k, v in users.items()})
    convener = await meeting.as_("convener")
    body = {"loan_id": loan_id,
            "meeting_at": (meeting_at or dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()}
    if step_up is not None:  # the fingerprint confirms the workflow's convene_committee payload
        upcoming = (await convener.json("GET", f"/api/committee/loans/{loan_id}/meetings"))["next"]
        body["step_up"] = await step_up(convener, loan_id, "convene_committee", {
            "meeting_id": upcoming["meeting_id"], "meeting_at": body["meeting_at"],
            "committee_kind": upcoming["committee_kind"]})
    meeting.view = await convener.json("POST", "/api/committee/meetings", body, expect=201)
    return meeting
