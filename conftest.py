"""Repository-wide pytest set-up: the real-infrastructure fixtures live in gridloop_common."""

pytest_plugins = ["gridloop_common.testing.fixtures"]
