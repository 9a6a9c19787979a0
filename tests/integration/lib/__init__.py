"""Helpers shared by the integration tests (not a test: tests/run.sh runs only the
tests/integration/*.py files themselves). See harness.py."""
