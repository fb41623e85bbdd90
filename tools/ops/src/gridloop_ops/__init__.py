"""Operator commands for a running gridloop (`gridloop-ops`)."""
