"""Use cases: each runs in one unit of work handed in by the caller."""
