"""The headless checking engine: contexts, the sandboxed runner, comparison and reports (no UI imports)."""
