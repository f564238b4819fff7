"""The master keys the service can open data with: the current one, and during a rotation
the next or previous one, so a rotation interrupted at any point loses nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .keys import BiometricKeyError, MasterKey, load_master_key, master_key_path


@dataclass
class Keyring:
    current: MasterKey
    others: dict[str, MasterKey] = field(default_factory=dict)

    def get(self, key_id: str) -> MasterKey:
        if key_id == self.current.key_id:
            return self.current
        if key_id in self.others:
            return self.others[key_id]
        raise BiometricKeyError(f"biometric data is wrapped by master key {key_id}, which is not configured "
                                "(set LOANCTL_BIOMETRIC_KEY to it, or restore the key file)")

    @classmethod
    def load(cls, configured: str, data_dir: Path, extra: str = "") -> "Keyring":
        """The configured or data-folder key; the data folder's .next/.previous files and
        `extra` (a rotation's old key, hex) are also accepted for opening."""
        current = load_master_key(configured, data_dir)
        ring = cls(current)
        path = master_key_path(data_dir)
        for candidate in (path.with_suffix(".next"), path.with_suffix(".previous")):
            if candidate.exists():
                ring.add(MasterKey.from_hex(candidate.read_text()))
        if extra:
            ring.add(MasterKey.from_hex(extra))
        return ring

    def add(self, key: MasterKey) -> None:
        if key.key_id != self.current.key_id:
            self.others[key.key_id] = key
