"""Which credit committee (大/小贷审会) decides a loan, its size, pool and pass rule."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class CommitteeRule:
    kind: str  # "small" or "large"
    size: int
    pool: str  # the pool the committee server draws members from
    pass_ratio: Fraction  # share of members voting in favour needed to pass (≥)
    # Share of the panel's seats that must be filled (members present in the room) before
    # deliberation starts; 1 = every seat (absent members are replaced by a logged re-draw).
    quorum: Fraction = Fraction(1)

    def quorum_seats(self, size: int | None = None) -> int:
        """Seats that must be filled for a panel of ``size`` (default: this committee's)."""
        return seats_needed(self.quorum, self.size if size is None else size)

    def passes(self, votes_for: int, members: int | None = None) -> bool:
        members = self.size if members is None else members
        if members <= 0:
            return False
        return Fraction(votes_for, members) >= self.pass_ratio

    def votes_needed(self) -> int:
        """Smallest number of votes in favour that passes a full committee."""
        needed = self.pass_ratio * self.size
        return int(needed) if needed.denominator == 1 else int(needed) + 1


def committee_for(amount: int, large_above: int, small: CommitteeRule, large: CommitteeRule) -> CommitteeRule:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a non-negative integer in fen, got {amount!r}")
    return large if amount > large_above else small


def seats_needed(quorum: Fraction, size: int) -> int:
    """The smallest number of seats that is at least ``quorum`` of ``size`` (at least one)."""
    needed = Fraction(quorum) * size
    return max(1, int(needed) if needed.denominator == 1 else int(needed) + 1)
