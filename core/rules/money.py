"""Amounts: integers in fen (分) everywhere; rule files write yuan as exact decimal strings."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100


def yuan_to_fen(text: str) -> int:
    """``"300000"`` or ``"300000.00"`` → 30000000. Refuses floats, signs and sub-fen digits."""
    if not isinstance(text, str):
        raise ValueError(f"an amount must be written as a string of yuan, e.g. \"300000\", not {type(text).__name__}")
    cleaned = text.replace(",", "").replace("_", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not an amount in yuan") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"'{text}' is not a positive amount in yuan")
    fen = value * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"'{text}' has more than two decimal places")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    return f"{Decimal(fen) / FEN_PER_YUAN:,.2f}"
