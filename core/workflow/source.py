"""A TOML file kept with its raw text, so errors can name the line of an entry.

tomllib returns plain dicts without positions; a bank editing the workflow file needs to be
told *where* the mistake is, so we scan the raw text for table headers and keys ourselves.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-"' ]+?)\s*=""")


class SourceError(Exception):
    """A problem in a definition or rule file, located at a line of that file."""

    def __init__(self, origin: str, problems: list[tuple[int, str]]) -> None:
        self.origin = origin
        self.problems = sorted(problems, key=lambda p: p[0])
        self.line = self.problems[0][0]
        text = "\n".join(f"{origin}:{line}: {msg}" for line, msg in self.problems)
        super().__init__(text)


def _clean_key(raw: str) -> tuple[str, ...]:
    parts = []
    for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', raw):
        parts.append(part.strip().strip("\"'"))
    return tuple(p for p in parts if p)


@dataclass
class _Header:
    line: int
    name: tuple[str, ...]
    array: bool


@dataclass
class TomlSource:
    """Parsed TOML plus a map from entries (``("action", 3, "to")``) back to line numbers."""

    origin: str
    text: str
    data: dict[str, Any]
    _headers: list[_Header] = field(default_factory=list, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def read(cls, path: str | Path) -> "TomlSource":
        path = Path(path)
        return cls.parse(path.read_text(encoding="utf-8"), str(path))

    @classmethod
    def parse(cls, text: str, origin: str, error: type[SourceError] = SourceError) -> "TomlSource":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            raise error(origin, [(int(match.group(1)) if match else 1, f"not valid TOML: {exc}")]) from None
        src = cls(origin, text, data)
        src._lines = text.splitlines()
        src._scan()
        return src

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def _scan(self) -> None:
        in_multiline: str | None = None
        for number, line in enumerate(self._lines, start=1):
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
            match = _HEADER.match(line)
            if match and not in_multiline:
                self._headers.append(_Header(number, _clean_key(match.group(2)), match.group(1) == "[["))

    def _section_end(self, header: _Header, limit: int) -> int:
        """Last line of a table: up to the next header that is not nested inside it."""
        full = header.name
        for later in self._headers:
            if later.line <= header.line or later.line > limit:
                continue
            nested = len(later.name) > len(full) and later.name[: len(full)] == full
            if not nested:
                return later.line - 1
        return limit

    def line_of(self, *path: Any) -> int:
        """Best line for an entry or a key of it, e.g. ``("action", 3, "payload", "amount")``.

        Integers index arrays of tables (``[[action]]``); names walk into sub-tables or keys.
        Falls back to the innermost table found, so a problem is never reported at line 0.
        """
        start, end, prefix, best = 1, len(self._lines), (), 1
        i = 0
        while i < len(path):
            name = str(path[i])
            full = prefix + (name,)
            if i + 1 < len(path) and isinstance(path[i + 1], int):
                occurrences = [h for h in self._headers if h.array and h.name == full and start <= h.line <= end]
                if path[i + 1] < len(occurrences):
                    header = occurrences[path[i + 1]]
                    start, end = header.line, self._section_end(header, end)
                    prefix, best = full, header.line
                    i += 2
                    continue
                return best
            header = next((h for h in self._headers if not h.array and h.name == full and start <= h.line <= end), None)
            if header is not None:
                start, end = header.line, self._section_end(header, end)
                prefix, best = full, header.line
                i += 1
                continue
            # a key in the table's own body: plain (`to = ...`) or dotted (`payload.amount = ...`)
            body_end = next((h.line - 1 for h in self._headers if start < h.line <= end), end)
            keys: list[str] = []
            for part in path[i:]:
                if isinstance(part, int):
                    break
                keys.append(str(part))
            for depth in range(len(keys), 0, -1):
                wanted = tuple(keys[:depth])
                for number in range(start, body_end + 1):
                    match = _KEY.match(self._lines[number - 1])
                    if match and not _HEADER.match(self._lines[number - 1]) and _clean_key(match.group(1)) == wanted:
                        return number
            return best
        return best

    def line_in_value(self, needle: str, *path: Any) -> int:
        """The line, within a multi-line value starting at ``path``, that holds ``needle``
        (one guard or notify entry of a list spread over several lines)."""
        start = self.line_of(*path)
        for number in range(start, len(self._lines) + 1):
            line = self._lines[number - 1]
            if number > start and (_HEADER.match(line) or _KEY.match(line) and "{" not in line.split("=", 1)[0]):
                break
            if needle in line:
                return number
        return start

    def first_line_containing(self, needle: str, start: int = 1, end: int | None = None) -> int | None:
        stop = end if end is not None else len(self._lines)
        for number in range(start, stop + 1):
            if needle in self._lines[number - 1]:
                return number
        return None
