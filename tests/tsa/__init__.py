"""A reusable local RFC 3161 TSA for tests (see server.py; pytest fixtures in fixtures.py)."""
