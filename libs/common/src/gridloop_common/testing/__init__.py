"""Test support: real infrastructure discovery, per-test isolation, polling, service processes."""
