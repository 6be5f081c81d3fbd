"""Fixtures of the docs tests; the forge and doc trees live in docs_forge.py (a unique module name,
since several test folders have a conftest.py), the PostgreSQL server in tests/support."""

from docs_forge import forge  # noqa: F401  (a fixture, registered by being imported here)
from postgres_testing import postgres_url  # noqa: F401  (a session fixture: one server for the docs tests)
