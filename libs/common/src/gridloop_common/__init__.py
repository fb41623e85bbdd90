"""Shared plumbing for gridloop services."""
