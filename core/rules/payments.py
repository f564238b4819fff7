"""Entrusted payment (受托支付) versus the borrower's own payment (自主支付), and the check
against splitting one payment into several to slip under a threshold."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable


@dataclass(frozen=True)
class OwnPaymentAllowance:
    """Own payment is allowed up to ``max_fen`` when every condition given here holds."""

    max_fen: int
    payee_known: bool | None = None  # None: either
    purpose: str | None = None  # None: any purpose


@dataclass(frozen=True)
class PaymentRule:
    default: str  # "entrusted" or "own"
    own_allowed: tuple[OwnPaymentAllowance, ...] = ()  # for default = entrusted
    entrusted_above_fen: int | None = None  # for default = own: single payments above this
    entrusted_above_share: Fraction | None = None  # ... or above this share of the project investment


@dataclass(frozen=True)
class PaymentDecision:
    mode: str  # "entrusted" or "own"
    reason: str
    threshold_fen: int | None  # the amount at which the decision flips, if there is one


def decide(product: str, rule: PaymentRule, amount: int, purpose: str, payee_known: bool,
           project_investment: int | None = None) -> PaymentDecision:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive integer in fen, got {amount!r}")
    if rule.default == "entrusted":
        for allowance in rule.own_allowed:
            if allowance.payee_known is not None and allowance.payee_known != payee_known:
                continue
            if allowance.purpose is not None and allowance.purpose != purpose:
                continue
            if amount <= allowance.max_fen:
                return PaymentDecision("own", f"{product}: own payment allowed up to {allowance.max_fen} fen"
                                       + ("" if allowance.payee_known is None else f" when the payee is {'known' if allowance.payee_known else 'unknown'}")
                                       + ("" if allowance.purpose is None else f" for {allowance.purpose} use"),
                                       allowance.max_fen)
        limits = [a.max_fen for a in rule.own_allowed
                  if (a.payee_known is None or a.payee_known == payee_known) and (a.purpose is None or a.purpose == purpose)]
        return PaymentDecision("entrusted", f"{product} loans are paid to the payee by the bank"
                               + (f"; {amount} fen is above the own-payment limit {max(limits)} fen" if limits else ""),
                               max(limits) if limits else None)
    if rule.entrusted_above_fen is not None and amount > rule.entrusted_above_fen:
        return PaymentDecision("entrusted", f"{product}: a single payment above {rule.entrusted_above_fen} fen is entrusted",
                               rule.entrusted_above_fen)
    if rule.entrusted_above_share is not None and project_investment is not None:
        share_limit = rule.entrusted_above_share * project_investment
        if amount > share_limit:
            return PaymentDecision("entrusted", f"{product}: a single payment above {rule.entrusted_above_share} of the project investment is entrusted",
                                   int(share_limit))
    return PaymentDecision("own", f"{product}: own payment below the entrusted-payment threshold", rule.entrusted_above_fen)


@dataclass(frozen=True)
class Payment:
    loan_id: str
    product: str
    amount: int  # fen
    paid_on: dt.date
    payee: str | None = None
    purpose: str = ""
    payee_known: bool = True
    mode: str = "own"


@dataclass(frozen=True)
class SplitFlag:
    """Payments that each stayed under a threshold but together would have crossed it."""

    group: str
    payments: tuple[Payment, ...]
    total_fen: int
    threshold_fen: int | None
    message: str


@dataclass(frozen=True)
class SplitCheck:
    window_days: int  # payments belong together when the last is < window_days after the first
    group_by: str  # "payee" or "loan"
    min_parts: int


def _group_key(payment: Payment, group_by: str) -> str:
    if group_by == "loan" or not payment.payee:
        return f"loan:{payment.loan_id}|{payment.product}"
    return f"payee:{payment.payee}|{payment.product}"


def detect_split(payments: Iterable[Payment], check: SplitCheck,
                 decide_for: Callable[[Payment, int], PaymentDecision]) -> list[SplitFlag]:
    """``decide_for(payment, amount)`` applies the product's payment rule to an amount."""
    groups: dict[str, list[Payment]] = {}
    for payment in payments:
        if payment.mode != "own":
            continue  # an entrusted payment cannot dodge the entrusted-payment rule
        groups.setdefault(_group_key(payment, check.group_by), []).append(payment)
    flags: list[SplitFlag] = []
    for key, items in groups.items():
        items.sort(key=lambda p: p.paid_on)
        reported: list[frozenset[int]] = []
        for i in range(len(items)):
            window: list[int] = []
            for j in range(i, len(items)):
                if (items[j].paid_on - items[i].paid_on).days >= check.window_days:
                    break
                window.append(j)
            if len(window) < check.min_parts or any(frozenset(window) <= r for r in reported):
                continue
            parts = [items[j] for j in window]
            total = sum(p.amount for p in parts)
            combined = decide_for(parts[0], total)
            if combined.mode == "entrusted" and all(decide_for(p, p.amount).mode == "own" for p in parts):
                reported.append(frozenset(window))
                flags.append(SplitFlag(
                    key, tuple(parts), total, combined.threshold_fen,
                    f"{len(parts)} own payments totalling {total} fen within {check.window_days} days "
                    f"would together need entrusted payment ({combined.reason})"))
    return flags
