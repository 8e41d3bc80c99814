"""Serving hardening: API keys and roles, the hash-chained audit log, rate and size limits, per-unit visibility
of case sources, and repair of a damaged index. Framework-free; api/security.py wires it into FastAPI."""
