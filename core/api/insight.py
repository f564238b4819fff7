"""Statistics and supervision over HTTP (filled below)."""
from . import routes  # noqa: F401
