"""Plug-ins defined outside the bench package, as another repository would write them.

Each breaks one clause of its contract on purpose; tests/test_contract_plugins.py shows that
bench.testing catches it, and tests/test_cli.py that the pre-check does.
"""
