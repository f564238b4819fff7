"""Loan rule tables (三个办法一个指引), versioned by effective date. Pure: no I/O but reading the file."""
from .committee import CommitteeRule
from .money import fen_to_yuan, yuan_to_fen
from .payments import Payment, PaymentDecision, SplitFlag
from .post_loan import PostLoanSchedule, add_months
from .rulebook import DEFAULT_PATH, ProductRule, RuleBook, RuleTableError, RuleVersion, UnknownProduct
from .terms import TermCheck

__all__ = [
    "CommitteeRule", "DEFAULT_PATH", "Payment", "PaymentDecision", "PostLoanSchedule", "ProductRule",
    "RuleBook", "RuleTableError", "RuleVersion", "SplitFlag", "TermCheck", "UnknownProduct",
    "add_months", "fen_to_yuan", "yuan_to_fen",
]
