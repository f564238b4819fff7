"""Pre-aggregated history for the dashboards (migration 0003).

Time in stage needs each history record paired with the one before it; doing that over a
million records on every page view is too slow, so the pairs are folded into one row per
(day left, stage, office) as new records arrive, and the dashboards read those rows.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base, Loan


class StageDay(Base):
    __tablename__ = "insight_stage_days"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)        # the day the stage was left
    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spans: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)               # spans longer than the stage's deadline


class Watermark(Base):
    """The last history record folded in, so each is counted exactly once."""

    __tablename__ = "insight_watermarks"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# One covering index serves every loan figure: a subtree is a range of office ids, and the
# columns the figures group and sum are in the index, so no table row is read.
Index("ix_loans_insight", Loan.office_id, Loan.created_at, Loan.stage, Loan.product, Loan.amount_fen,
      Loan.officer_a_id, Loan.due_at, Loan.updated_at)
