"""Key files made on first start in the data folder, safely when several processes start at once.

Core nodes (and a worker, a biometrics node) may share one data folder and start together. A
file created with O_EXCL and then written can be read by a second process while still empty,
which then fails to start on a "malformed key". Here the content is written and flushed under a
temporary name and then hard-linked into place: the link appears complete or not at all, and it
fails when another process linked first — whose key is then the one everybody reads.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, content: str) -> None:
    """Make `path` (mode 0600) holding `content`, unless it exists already."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: its key is the one
    finally:
        os.unlink(temporary)
