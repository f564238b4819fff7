"""Scoped access (分级授权): the one place that narrows what a principal may see and touch.

Every query for loans, customers, offices and users goes through `Scope`; anything outside
it is reported as not found, so its existence does not leak.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from .errors import Forbidden, NotFound
from .identity import Principal
from .orm import Customer, Loan, LoanParticipant, Office, User

# Roles that oversee everything below their office; the chairman sees the whole bank.
OVERSIGHT_ROLES = frozenset({"manager"})
# Roles that read every case filed below their office (archivists retrieve credit files).
SUBTREE_READERS = OVERSIGHT_ROLES | {"archivist"}
WHOLE_BANK_ROLES = frozenset({"chairman"})
# Roles that work only the cases assigned to them, never a whole office's stage.
ASSIGNED_ONLY_ROLES = frozenset({"loan_officer", "committee_member", "post_loan_manager"})


@dataclass(frozen=True)
class Scope:
    principal: Principal
    # Stages at which each role acts (from the workflow definition): a role sees the
    # cases waiting at its stages in its office subtree (its work queue).
    stage_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def whole_bank(self) -> bool:
        return self.principal.has(*WHOLE_BANK_ROLES)

    def _assigned(self, stage: str | None = None) -> list[ColumnElement[bool]]:
        """Cases bound to the principal as an officer or a participant (one branch each)."""
        me = self.principal.user_id
        mine = select(LoanParticipant.loan_id).where(LoanParticipant.user_id == me)
        branches = [Loan.officer_a_id == me, Loan.officer_b_id == me, Loan.id.in_(mine)]
        return [and_(Loan.stage == stage, b) for b in branches] if stage else branches

    def queue_branches(self) -> list[ColumnElement[bool]]:
        """The work queue as a union of conditions that each follow one index.

        A role works the cases waiting at each of its stages: in its office subtree, or only
        those assigned to it. One branch per stage keeps each one an ordered index scan.
        """
        branches: list[ColumnElement[bool]] = []
        for role in sorted(self.principal.roles):
            for stage in sorted(s for s, roles in self.stage_roles.items() if role in roles):
                branches += self._assigned(stage)
                if role not in ASSIGNED_ONLY_ROLES:
                    branches.append(and_(Loan.stage == stage, self._in_subtree(Loan.office_id)))
        return branches

    def _in_subtree(self, office_column) -> ColumnElement[bool]:
        subtree = select(Office.id).where(Office.path.startswith(self.principal.office_path))
        return office_column.in_(subtree)

    def loan_branches(self) -> list[ColumnElement[bool]]:
        """What the principal may see, as a union of index-friendly conditions."""
        if self.whole_bank:
            return [true()]
        me = self.principal.user_id
        branches = [*self._assigned(), Loan.created_by_id == me, Loan.applicant_user_id == me,
                    *self.queue_branches()]
        if self.principal.has(*SUBTREE_READERS):
            branches.append(self._in_subtree(Loan.office_id))
        return branches

    def loans(self) -> ColumnElement[bool]:
        """The condition a loan row must meet to be visible to the principal."""
        return or_(*self.loan_branches())

    def work_queue(self) -> ColumnElement[bool]:
        """Cases waiting for the principal to act."""
        branches = self.queue_branches()
        return or_(*branches) if branches else false()

    def customers(self) -> ColumnElement[bool]:
        if self.whole_bank:
            return true()
        clauses = [Customer.user_id == self.principal.user_id,
                   exists().where(Loan.customer_id == Customer.id, self.loans())]
        if self.principal.has(*SUBTREE_READERS):
            clauses.append(self._in_subtree(Customer.office_id))
        return or_(*clauses)

    def offices(self) -> ColumnElement[bool]:
        """Staff see their own office and, if they administer or oversee, its subtree."""
        if self.whole_bank:
            return true()
        if self.principal.has("admin", *OVERSIGHT_ROLES):
            return Office.path.startswith(self.principal.office_path)
        if not (self.principal.roles - {"applicant"}):
            return false()
        return Office.id == self.principal.office_id

    def users(self) -> ColumnElement[bool]:
        if self.whole_bank:
            return true()
        if self.principal.has("admin", *OVERSIGHT_ROLES):
            return self._in_subtree(User.office_id)
        return User.id == self.principal.user_id

    # Writes -----------------------------------------------------------------------------

    def require_admin_over(self, office: Office) -> None:
        """Administration of offices and users: admins within their own subtree."""
        if not self.principal.has("admin") or not office.path.startswith(self.principal.office_path):
            raise Forbidden("only an administrator of this office may change it")

    async def loan(self, session: AsyncSession, loan_id: int, *, for_update: bool = False) -> Loan:
        if for_update:
            # Take the row lock first, then judge the scope in a fresh statement: a command that
            # waited for a concurrent one must see what that one committed (its new stage and
            # participants), not the snapshot it started with.
            await session.execute(select(Loan.id).where(Loan.id == loan_id).with_for_update())
        loan = (await session.execute(select(Loan).where(Loan.id == loan_id, self.loans()))).scalar_one_or_none()
        if loan is None:
            raise NotFound(f"loan {loan_id} not found")
        return loan

    async def office(self, session: AsyncSession, office_id: int) -> Office:
        office = (await session.execute(
            select(Office).where(Office.id == office_id, self.offices()))).scalar_one_or_none()
        if office is None:
            raise NotFound(f"office {office_id} not found")
        return office

    async def user(self, session: AsyncSession, user_id: int) -> User:
        user = (await session.execute(
            select(User).where(User.id == user_id, self.users()))).scalar_one_or_none()
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user
