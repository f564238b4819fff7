"""Sealed ballots: nothing in the database tells a vote before the tally.

A ballot is the canonical JSON of ``{"choice", "opinion", "conditions", "nonce"}``, padded
to a fixed length (so approve and reject, long and short opinions, all give ciphertexts of
the same size) and encrypted with AES-256-GCM under the meeting's ballot key. The key is
``HMAC-SHA256(server secret, "committee-ballot-key/v1" || meeting code || salt)``: the salt
is in the database, the server secret is not (it lives in the data folder's secret file or
the environment), so the tables alone open nothing. The associated data binds a ciphertext
to its meeting and member (a sealed ballot copied to another member's row does not open).
At the tally the key is written to the meeting row ("released"), so anyone holding the
database can afterwards re-open every ballot and check it against its commitment
``SHA-256(nonce || canonical vote)``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHOICES = ("approve", "reject")
PADDED_SIZE = 8192
MAX_OPINION_CHARS = 1000
MAX_CONDITIONS_CHARS = 500
_KEY_LABEL = b"committee-ballot-key/v1"


class BallotError(ValueError):
    """A ballot that cannot be sealed or does not open."""


@dataclass(frozen=True)
class Vote:
    choice: str
    opinion: str
    conditions: str
    nonce: str  # chosen by the voter's page: makes the payload hash unguessable

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise BallotError(f"a vote is 'approve' or 'reject', not {self.choice!r}")
        if not isinstance(self.opinion, str) or not self.opinion.strip():
            raise BallotError("a vote needs a written opinion")
        if len(self.opinion) > MAX_OPINION_CHARS:
            raise BallotError(f"the opinion is longer than {MAX_OPINION_CHARS} characters")
        if not isinstance(self.conditions, str) or len(self.conditions) > MAX_CONDITIONS_CHARS:
            raise BallotError(f"conditions are text of at most {MAX_CONDITIONS_CHARS} characters")
        if self.conditions and self.choice != "approve":
            raise BallotError("conditions go with an approval")
        if not isinstance(self.nonce, str) or not 16 <= len(self.nonce) <= 64:
            raise BallotError("the ballot nonce must be 16-64 random characters")

    def payload(self, meeting_code: str) -> dict[str, Any]:
        """What the member confirms with their fingerprint (its SHA-256 is the step-up's)."""
        return {"meeting_id": meeting_code, "choice": self.choice, "opinion": self.opinion,
                "conditions": self.conditions, "nonce": self.nonce}

    def canonical(self) -> bytes:
        return json.dumps({"choice": self.choice, "opinion": self.opinion, "conditions": self.conditions,
                           "nonce": self.nonce}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()


def new_salt() -> str:
    return secrets.token_hex(16)


def meeting_key(secret_key: bytes, meeting_code: str, salt: str) -> bytes:
    return hmac.new(secret_key, _KEY_LABEL + b"\x00" + meeting_code.encode() + b"\x00" + bytes.fromhex(salt),
                    hashlib.sha256).digest()


def _associated(meeting_code: str, member_id: int) -> bytes:
    return f"committee-ballot\x00{meeting_code}\x00{member_id}".encode()


def commitment(vote: Vote) -> str:
    return hashlib.sha256(vote.nonce.encode() + b"\x00" + vote.canonical()).hexdigest()


def seal(key: bytes, meeting_code: str, member_id: int, vote: Vote) -> tuple[str, str]:
    """(sealed ballot, commitment) to store."""
    plain = vote.canonical()
    if len(plain) + 4 > PADDED_SIZE:
        raise BallotError("the ballot is too long")
    padded = len(plain).to_bytes(4, "big") + plain + bytes(PADDED_SIZE - 4 - len(plain))
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, padded, _associated(meeting_code, member_id))
    return base64.b64encode(sealed).decode(), commitment(vote)


def open_ballot(key: bytes, meeting_code: str, member_id: int, sealed: str, expected_commitment: str) -> Vote:
    try:
        raw = base64.b64decode(sealed, validate=True)
        padded = AESGCM(key).decrypt(raw[:12], raw[12:], _associated(meeting_code, member_id))
    except (InvalidTag, ValueError) as error:
        raise BallotError(f"the ballot of member {member_id} does not open: {type(error).__name__}") from None
    size = int.from_bytes(padded[:4], "big")
    data = json.loads(padded[4:4 + size])
    vote = Vote(data["choice"], data["opinion"], data["conditions"], data["nonce"])
    if commitment(vote) != expected_commitment:
        raise BallotError(f"the ballot of member {member_id} does not match its commitment")
    return vote
