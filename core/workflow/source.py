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

    def _entry_range(self, path: tuple) -> tuple[int, int, tuple[str, ...]] | None:
        """Lines (first, last) of the table a path points into, and the key prefix left over.

        Only the leading ``name, index`` pair of an array of tables is resolved by counting
        headers; deeper paths are resolved by looking for sub-table headers or keys inside.
        """
        if len(path) >= 2 and isinstance(path[1], int):
            name = (path[0],)
            count = -1
            for i, header in enumerate(self._headers):
                if header.array and header.name == name:
                    count += 1
                    if count == path[1]:
                        end = len(self._lines)
                        for later in self._headers[i + 1:]:
                            if later.name[: len(name)] != name or (later.array and later.name == name):
                                end = later.line - 1
                                break
                        return header.line, end, tuple(str(p) for p in path[2:])
            return None
        # a plain table path: find the longest header that prefixes it
        best: _Header | None = None
        for header in self._headers:
            if header.name == tuple(str(p) for p in path[: len(header.name)]):
                if best is None or len(header.name) >= len(best.name):
                    best = header
        if best is None:
            return 1, len(self._lines), tuple(str(p) for p in path)
        i = self._headers.index(best)
        end = self._headers[i + 1].line - 1 if i + 1 < len(self._headers) else len(self._lines)
        return best.line, end, tuple(str(p) for p in path[len(best.name):])

    def line_of(self, *path: Any) -> int:
        """Best line for an entry or a key of it; falls back to the enclosing entry's line."""
        found = self._entry_range(tuple(path))
        if found is None:
            return 1
        start, end, rest = found
        if not rest:
            return start
        base = tuple(str(p) for p in path[: len(path) - len(rest)])
        table_name = base if not (len(path) >= 2 and isinstance(path[1], int)) else (str(path[0]),)
        # sub-table headers inside the entry, e.g. [action.payload] or [action.payload.amount]
        best_line, best_depth = start, 0
        for header in self._headers:
            if not (start <= header.line <= end):
                continue
            sub = header.name[len(table_name):]
            if header.name[: len(table_name)] == table_name and sub and sub == rest[: len(sub)]:
                if len(sub) > best_depth:
                    best_line, best_depth = header.line, len(sub)
        remaining = rest[best_depth:]
        if not remaining:
            return best_line
        sub_end = end
        for header in self._headers:
            if best_line < header.line <= end:
                sub_end = header.line - 1
                break
        # a dotted or plain key on its own line: `payload.amount = ...` or `amount = ...`
        for depth in range(len(remaining), 0, -1):
            wanted = remaining[:depth]
            for number in range(best_line, sub_end + 1):
                match = _KEY.match(self._lines[number - 1])
                if match and _clean_key(match.group(1)) == wanted:
                    return number
        return best_line

    def first_line_containing(self, needle: str, start: int = 1, end: int | None = None) -> int | None:
        stop = end if end is not None else len(self._lines)
        for number in range(start, stop + 1):
            if needle in self._lines[number - 1]:
                return number
        return None
