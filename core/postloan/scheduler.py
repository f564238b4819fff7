"""The due-work scheduler: runs post-loan task rows whose time has come.

Each task is run and marked in the same transaction that queues its message in the outbox,
so after a crash or restart a task is either done (its message queued exactly once) or still
pending (run on the next pass, late rather than never). The clock is a parameter, which is how
tests advance time.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import exists, select

from ..db import DatabaseUnavailable
from .. import outbox
from ..db import Database
from ..orm import Customer, Loan, User, utcnow
from .schedule import CUSTOMER, TEMPLATES
from .tables import DueTask, ManagedLoan, PostLoanRecord

log = logging.getLogger("loanctl.postloan")
BANK = "农商银行"


@dataclass(frozen=True)
class TaskOutcome:
    task_id: int
    loan_id: int
    kind: str
    due_on: dt.date
    status: str  # sent | skipped


@dataclass
class Scheduler:
    db: Database
    batch: int = 200

    async def run_due(self, now: dt.datetime | None = None) -> list[TaskOutcome]:
        """Run every task due by `now`; return what happened to each."""
        now = now or utcnow()
        outcomes: list[TaskOutcome] = []
        while True:
            done = await self._run_batch(now)
            outcomes.extend(done)
            if len(done) < self.batch:
                return outcomes

    async def _run_batch(self, now: dt.datetime) -> list[TaskOutcome]:
        async with self.db.unit_of_work() as session:
            tasks = (await session.execute(
                select(DueTask).where(DueTask.status == "pending", DueTask.run_at <= now)
                .order_by(DueTask.run_at, DueTask.id).limit(self.batch)
                .with_for_update(skip_locked=True))).scalars().all()
            outcomes = []
            for task in tasks:
                status = await self._run(session, task, now)
                task.status, task.done_at = status, now
                outcomes.append(TaskOutcome(task.id, task.loan_id, task.kind, task.due_on, status))
            return outcomes

    async def _run(self, session, task: DueTask, now: dt.datetime) -> str:
        managed = await session.get(ManagedLoan, task.loan_id)
        loan = await session.get(Loan, task.loan_id)
        if managed is None or loan is None or managed.status != "active" or loan.stage != "active":
            return "skipped"
        if not managed.checked:
            # An imported loan waiting for its check: its reminders start once it counts.
            return "skipped"
        if task.only_if_unpaid and await _settled(session, managed, task):
            return "skipped"
        customer = await session.get(Customer, loan.customer_id)
        text = TEMPLATES[task.template].format(bank=BANK, code=loan.tracking_code, customer=customer.name,
                                               due=f"{task.due_on.month}月{task.due_on.day}日")
        if task.audience == CUSTOMER:
            if not customer.phone:
                log.warning("loan %s: customer has no phone; %s not sent", loan.id, task.kind)
                return "skipped"
            message = outbox.queue(session, template=task.template, text=text, loan_id=loan.id,
                                   user_id=customer.user_id, phone=customer.phone, name=customer.name, not_before=now)
        else:
            manager = await session.get(User, managed.manager_id) if managed.manager_id else None
            if manager is None or not manager.active:
                log.warning("loan %s has no active post-loan manager; %s not sent", loan.id, task.kind)
                return "skipped"
            message = outbox.queue(session, template=task.template, text=text, loan_id=loan.id, user_id=manager.id,
                                   phone=manager.phone, name=manager.display_name, not_before=now)
        await session.flush()
        task.outbox_id = message.id
        return "sent"


async def _settled(session, managed: ManagedLoan, task: DueTask) -> bool:
    """Whether the payment a dunning step is about has been made."""
    if task.kind.startswith("maturity"):
        return managed.outstanding_fen == 0
    return bool((await session.execute(select(exists().where(
        PostLoanRecord.loan_id == task.loan_id, PostLoanRecord.kind == "repayment_proof",
        PostLoanRecord.covers_due_on == task.due_on)))).scalar())


async def run_forever(scheduler: Scheduler, interval: float = 60.0) -> None:
    while True:
        try:
            await scheduler.run_due()
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable:
            pass  # the database logs an outage once; the next round tries again
        except Exception:
            log.exception("post-loan scheduler pass failed; will retry")
        await asyncio.sleep(interval)
