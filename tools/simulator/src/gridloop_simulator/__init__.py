"""The city simulator: plays residents, grid workers, departments, the center, reporters and a
monitor against a running gridloop, through its public interfaces only, and records what it did.
"""
