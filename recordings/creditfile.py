"""The credit file (档案) index of a loan: what was filed, its hash, signed.

Pure: no I/O. Each filing produces a new index version that names the digest of
the previous one, so versions form a chain, and each version is signed.

Signature: Ed25519 rather than HMAC-SHA256. An auditor who receives an exported
credit file must be able to check it; with HMAC the checking key is the signing
key, so anyone able to verify could also forge. With Ed25519 the bank publishes
the public key and keeps the private one (in configuration today, an HSM later).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .blobstore import check_digest

INDEX_FORMAT = "las-credit-file-index/1"
SIGNATURE_ALGORITHM = "Ed25519"

# Kinds the platform files; the set is open (a bank may add its own), but a kind
# must be a plain slug so that it sorts and exports predictably.
KNOWN_KINDS = (
    "document_page",
    "investigation_record",
    "review_record",
    "fingerprint_record",
    "committee_draw",
    "committee_minutes",
    "vote",
    "recording",
    "recording_manifest",
    "post_loan_record",
)
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class CreditFileError(ValueError):
    """A malformed index or entry."""


class IndexTampered(Exception):
    """The signature does not match the index: something was changed, added or removed."""


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise CreditFileError("times in the credit file must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)


def natural_key(code: str) -> tuple[Any, ...]:
    """Order document codes as people do: A2 before A10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", code) if part)


@dataclass(frozen=True)
class CreditFileEntry:
    kind: str
    code: str
    """Document code (e.g. A01 ID card, B03 land contract) or record reference."""
    title: str
    digest: str
    size: int
    filed_at: datetime
    order: int = 0
    """Page number within a document code; sequence for other kinds."""
    media_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        if not _KIND_RE.match(self.kind):
            raise CreditFileError(f"bad entry kind {self.kind!r}")
        if not self.code or len(self.code) > 64 or any(c in self.code for c in "/\\\x00"):
            raise CreditFileError(f"bad document code {self.code!r}")
        check_digest(self.digest)
        if self.size < 0 or self.order < 0:
            raise CreditFileError("size and order must not be negative")
        format_time(self.filed_at)

    @property
    def identity(self) -> tuple[str, str, int]:
        """What an entry is, as opposed to what it contains."""
        return (self.kind, self.code, self.order)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.kind, natural_key(self.code), self.code, self.order)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "title": self.title,
            "digest": self.digest,
            "size": self.size,
            "filed_at": format_time(self.filed_at),
            "order": self.order,
            "media_type": self.media_type,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CreditFileEntry":
        try:
            return cls(
                kind=data["kind"],
                code=data["code"],
                title=data["title"],
                digest=data["digest"],
                size=int(data["size"]),
                filed_at=parse_time(data["filed_at"]),
                order=int(data["order"]),
                media_type=data["media_type"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CreditFileError(f"bad entry {data!r}: {exc}") from None


@dataclass(frozen=True)
class CreditFileIndex:
    loan: str
    entries: tuple[CreditFileEntry, ...]
    issued_at: datetime
    version: int = 1
    previous: str | None = None
    """Digest of the previous version's canonical bytes; None for the first."""

    def __post_init__(self) -> None:
        if not self.loan:
            raise CreditFileError("an index needs a loan reference")
        ordered = tuple(sorted(self.entries, key=CreditFileEntry.sort_key))
        seen: set[tuple[str, str, int]] = set()
        for entry in ordered:
            if entry.identity in seen:
                raise CreditFileError(f"entry {entry.identity} is filed twice; give the new one its own order")
            seen.add(entry.identity)
        object.__setattr__(self, "entries", ordered)
        if self.previous is not None:
            check_digest(self.previous)
        format_time(self.issued_at)

    @classmethod
    def empty(cls, loan: str, issued_at: datetime) -> "CreditFileIndex":
        return cls(loan, (), issued_at, version=0)

    def file(self, new: Iterable[CreditFileEntry], issued_at: datetime) -> "CreditFileIndex":
        """The next version: this one's entries plus ``new``, chained to this one."""
        return replace(
            self,
            entries=self.entries + tuple(new),
            issued_at=issued_at,
            version=self.version + 1,
            previous=self.digest() if self.version > 0 else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "loan": self.loan,
            "version": self.version,
            "previous": self.previous,
            "issued_at": format_time(self.issued_at),
            "entries": [e.to_json() for e in self.entries],
        }

    def canonical_bytes(self) -> bytes:
        """The exact bytes that are hashed and signed: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_canonical(cls, data: bytes) -> "CreditFileIndex":
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("format") != INDEX_FORMAT:
                raise CreditFileError(f"not a {INDEX_FORMAT} document")
            index = cls(
                loan=raw["loan"],
                entries=tuple(CreditFileEntry.from_json(e) for e in raw["entries"]),
                issued_at=parse_time(raw["issued_at"]),
                version=int(raw["version"]),
                previous=raw["previous"],
            )
        except CreditFileError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CreditFileError(f"unreadable index: {exc}") from None
        if index.canonical_bytes() != data:
            # Otherwise two different byte strings could carry one signature's meaning.
            raise CreditFileError("the index is not in canonical form")
        return index

    def scanned_pages(self) -> list[CreditFileEntry]:
        """Pages of scanned documents in filing order: by document code, then page."""
        return [e for e in self.entries if e.kind == "document_page"]

    def digests(self) -> set[str]:
        return {e.digest for e in self.entries}


@dataclass(frozen=True)
class IndexSignature:
    algorithm: str
    key_id: str
    index_digest: str
    signature: str
    """Base64 of the Ed25519 signature over the index's canonical bytes."""

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"algorithm": self.algorithm, "key_id": self.key_id, "index_digest": self.index_digest,
             "signature": self.signature},
            sort_keys=True, indent=1,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IndexSignature":
        try:
            raw = json.loads(data)
            return cls(raw["algorithm"], raw["key_id"], raw["index_digest"], raw["signature"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CreditFileError(f"unreadable signature: {exc}") from None


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_signing_key() -> str:
    """A new private key as PKCS#8 PEM text, for configuration."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class IndexSigner:
    private_key: Ed25519PrivateKey

    @classmethod
    def from_config(cls, value: str) -> "IndexSigner":
        """Accept PKCS#8 PEM text or ``ed25519:<base64 32-byte seed>``."""
        value = value.strip()
        try:
            if value.startswith("ed25519:"):
                seed = base64.b64decode(value[len("ed25519:"):], validate=True)
                return cls(Ed25519PrivateKey.from_private_bytes(seed))
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise CreditFileError(f"the archive signing key cannot be read: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CreditFileError("the archive signing key must be an Ed25519 key")
        return cls(key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, index: CreditFileIndex) -> IndexSignature:
        return self.sign_bytes(index.canonical_bytes())

    def sign_bytes(self, data: bytes) -> IndexSignature:
        """The same Ed25519 signature over any canonical bytes (e.g. an audit-chain anchor)."""
        return IndexSignature(
            SIGNATURE_ALGORITHM,
            key_id_of(self.public_key),
            hashlib.sha256(data).hexdigest(),
            base64.b64encode(self.private_key.sign(data)).decode(),
        )

    def verifier(self) -> "IndexVerifier":
        return IndexVerifier.from_keys([self.public_key])


@dataclass(frozen=True)
class IndexVerifier:
    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    """By key id, so indexes signed before a key rotation still verify."""

    @classmethod
    def from_keys(cls, keys: Iterable[Ed25519PublicKey]) -> "IndexVerifier":
        return cls({key_id_of(k): k for k in keys})

    @classmethod
    def from_pem(cls, *pems: str) -> "IndexVerifier":
        keys = []
        for pem in pems:
            key = serialization.load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise CreditFileError("index verification keys must be Ed25519 public keys")
            keys.append(key)
        return cls.from_keys(keys)

    def verify_bytes(self, data: bytes, signature: IndexSignature) -> None:
        if signature.algorithm != SIGNATURE_ALGORITHM:
            raise IndexTampered(f"unexpected signature algorithm {signature.algorithm!r}")
        key = self.keys.get(signature.key_id)
        if key is None:
            raise IndexTampered(f"signed with unknown key {signature.key_id}")
        if hashlib.sha256(data).hexdigest() != signature.index_digest:
            raise IndexTampered("the index does not match the digest that was signed")
        try:
            key.verify(base64.b64decode(signature.signature), data)
        except (InvalidSignature, ValueError):
            raise IndexTampered("the index signature is not valid") from None

    def verify(self, index: CreditFileIndex, signature: IndexSignature) -> None:
        """Raise IndexTampered unless ``signature`` is a valid signature of ``index``."""
        self.verify_bytes(index.canonical_bytes(), signature)


@dataclass(frozen=True)
class IndexDiff:
    added: tuple[CreditFileEntry, ...]
    removed: tuple[CreditFileEntry, ...]
    changed: tuple[tuple[CreditFileEntry, CreditFileEntry], ...]
    """(signed, current) pairs with the same identity but different content."""

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(signed: CreditFileIndex, current: Iterable[CreditFileEntry]) -> IndexDiff:
    """What differs between a signed index and the entries as they are now (e.g. in the database)."""
    before = {e.identity: e for e in signed.entries}
    after = {e.identity: e for e in current}
    return IndexDiff(
        added=tuple(sorted((after[k] for k in after.keys() - before.keys()), key=CreditFileEntry.sort_key)),
        removed=tuple(sorted((before[k] for k in before.keys() - after.keys()), key=CreditFileEntry.sort_key)),
        changed=tuple(
            (before[k], after[k]) for k in sorted(before.keys() & after.keys(), key=lambda k: before[k].sort_key())
            if before[k] != after[k]
        ),
    )
