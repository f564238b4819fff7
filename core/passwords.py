"""Password hashing (Argon2id) and the password policy."""
from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import InvalidInput

_COMMON = frozenset(
    line.strip().lower()
    for line in (Path(__file__).parent / "common_passwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
MAX_LENGTH = 128
# The rules of check_policy, as the API document states them for a new or changed password.
POLICY_TEXT = (f"at least LOANCTL_PASSWORD_MIN_LENGTH characters (default 8) and at most {MAX_LENGTH}; not a "
               "common password, not containing the user name, more than two distinct characters; "
               "otherwise 422 weak_password")


class PasswordHashing:
    """Argon2id with the configured cost; knows when a stored hash needs upgrading."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
        # Verified when the account is unknown, so that an unknown name costs the same time
        # as a wrong password.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def check_policy(password: str, *, username: str = "", min_length: int = 8) -> None:
    """Refuse passwords that are short, very long, common, or built on the user name."""
    if not isinstance(password, str):
        raise InvalidInput("password must be a string", code="weak_password")
    if len(password) < min_length:
        raise InvalidInput(f"password must have at least {min_length} characters", code="weak_password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password may have at most {MAX_LENGTH} characters", code="weak_password")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) <= 2:
        raise InvalidInput("password is too common; choose another", code="weak_password")
    if username and username.lower() in lowered:
        raise InvalidInput("password may not contain the user name", code="weak_password")
