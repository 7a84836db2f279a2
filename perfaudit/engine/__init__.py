"""The analysis engine: discovery, parsing, name resolution, per-file facts, project index."""
