"""Stage deadlines: warn the people a case waits on before its stage runs late."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import messages, outbox
from .db import try_exclusive
from .loanflow import Workflow, role_holders
from .orm import Loan, OutboxMessage, User, utcnow

TEMPLATE = "deadline_near"


async def queue_warnings(session: AsyncSession, workflow: Workflow, *, now: dt.datetime | None = None,
                         window: dt.timedelta = dt.timedelta(hours=8)) -> int:
    """Queue one warning per case and stage entry whose deadline falls within `window`.

    Every core node runs this round; "not yet warned" is read and then written, so two nodes
    running it at once would both warn. Only the node holding the round's lock runs it
    (another returns 0 at once); the lock is taken before the read, so the next holder sees the
    warnings the previous one committed.
    """
    if not await try_exclusive(session, "deadline-warnings"):
        return 0
    now = now or utcnow()
    warned = exists().where(and_(OutboxMessage.loan_id == Loan.id, OutboxMessage.template == TEMPLATE,
                                 OutboxMessage.created_at >= Loan.stage_entered_at))
    due = (await session.execute(select(Loan).where(Loan.due_at.is_not(None), Loan.due_at <= now + window,
                                                    ~warned))).scalars().all()
    queued = 0
    for loan in due:
        definition = await workflow.definition_of(session, loan.workflow_version)
        stage = definition.stages[loan.stage]
        if stage.is_end:
            continue
        text = messages.render(TEMPLATE, bank="农商银行", code=loan.tracking_code, stage=stage.name_zh)
        for user in await _waiting_on(session, workflow, loan):
            outbox.queue(session, template=TEMPLATE, text=text, loan_id=loan.id, user_id=user.id,
                         phone=user.phone, name=user.display_name, now=now)
            queued += 1
    return queued


async def _waiting_on(session: AsyncSession, workflow: Workflow, loan: Loan) -> list[User]:
    """The assigned officers if the stage is theirs, else the holders of the stage's roles."""
    roles = workflow.stage_roles.get(loan.stage, frozenset())
    people: dict[int, User] = {}
    if "loan_officer" in roles:
        for user_id in (loan.officer_a_id, loan.officer_b_id):
            if user_id:
                people[user_id] = await session.get(User, user_id)
    for role in sorted(roles - {"loan_officer", "applicant"}):
        for user in await role_holders(session, role, loan):
            people[user.id] = user
    return [u for u in people.values() if u is not None and u.active]
