"""Several versions of the workflow side by side, so a loan keeps the version it started with.

The core stores ``definition.version`` on each loan and the definition's text (``definition.text``)
once per version; after a bank edits its file, loans in flight are planned against the text
they started with, fetched here by version.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .definition import Definition, load_definition, parse_definition


class UnknownDefinitionVersion(LookupError):
    pass


class WorkflowRegistry:
    def __init__(self) -> None:
        self._by_version: dict[str, Definition] = {}
        self._by_hash: dict[str, Definition] = {}
        self.current: Definition | None = None

    def add(self, definition: Definition, *, current: bool = False) -> Definition:
        known = self._by_hash.get(definition.sha256)
        if known is not None:
            definition = known
        else:
            self._by_version[definition.version] = definition
            self._by_hash[definition.sha256] = definition
        if current or self.current is None:
            self.current = definition
        return definition

    def add_text(self, text: str, origin: str = "<stored workflow>", *, current: bool = False) -> Definition:
        return self.add(parse_definition(text, origin), current=current)

    def add_file(self, path: str | Path, *, current: bool = False) -> Definition:
        return self.add(load_definition(path), current=current)

    def get(self, version: str) -> Definition:
        """By the full version (``2026.1@abcd…``) or by the content hash (full or a prefix ≥ 12)."""
        if version in self._by_version:
            return self._by_version[version]
        key = version.split("@", 1)[-1]
        if len(key) >= 12:
            matches = [d for h, d in self._by_hash.items() if h.startswith(key)]
            if len(matches) == 1:
                return matches[0]
        raise UnknownDefinitionVersion(f"no workflow definition with version '{version}' is loaded")

    def __contains__(self, version: str) -> bool:
        try:
            self.get(version)
        except UnknownDefinitionVersion:
            return False
        return True

    def __iter__(self) -> Iterator[Definition]:
        return iter(self._by_version.values())

    def __len__(self) -> int:
        return len(self._by_version)
