"""Envelope encryption of biometric data: AES-256-GCM under per-subject data keys, the data
keys wrapped by a master key from configuration.

A sealed value is nonce (12 bytes) + ciphertext + tag. The associated data names what the
value is and whose it is, so a ciphertext copied onto another row or subject fails to open.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.keyfile import create_once

MASTER_KEY_FILE = "biometric-master.key"
NONCE_BYTES = 12


class BiometricKeyError(Exception):
    """A biometric key is missing, malformed, or does not open the data it should."""




@dataclass(frozen=True)
class MasterKey:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise BiometricKeyError("the biometric master key must be 32 bytes (64 hex characters)")

    @classmethod
    def from_hex(cls, text: str) -> "MasterKey":
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError:
            raise BiometricKeyError("the biometric master key must be 64 hex characters") from None

    @classmethod
    def generate(cls) -> "MasterKey":
        return cls(secrets.token_bytes(32))

    @property
    def key_id(self) -> str:
        """A short public name of the key, stored beside each wrapped data key."""
        return hashlib.sha256(b"biometric-master-key-id:" + self.key).hexdigest()[:16]

    def wrap(self, data_key: bytes, subject: str) -> bytes:
        return seal(self.key, data_key, f"data-key:{subject}")

    def unwrap(self, wrapped: bytes, subject: str) -> bytes:
        return open_sealed(self.key, wrapped, f"data-key:{subject}")


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def open_sealed(key: bytes, sealed: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError):
        raise BiometricKeyError(f"sealed {context.split(':')[0]} does not open with this key") from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def master_key_path(data_dir: Path) -> Path:
    return data_dir / MASTER_KEY_FILE


def load_master_key(configured: str, data_dir: Path) -> MasterKey:
    """The configured key (LOANCTL_BIOMETRIC_KEY, hex), else the one made on first start in the
    data folder with mode 0600."""
    if configured:
        return MasterKey.from_hex(configured)
    path = master_key_path(data_dir)
    if not path.exists():
        create_once(path, MasterKey.generate().key.hex())  # complete for every node starting at once
    return MasterKey.from_hex(path.read_text())


def write_key_file(path: Path, key: MasterKey, *, replace: bool = False) -> None:
    """Write a key file readable by its owner only (a rotation replaces it atomically)."""
    target = path.with_suffix(".new") if replace else path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not replace:
            return  # another worker made it first
        os.unlink(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.key.hex())
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(target, path)
