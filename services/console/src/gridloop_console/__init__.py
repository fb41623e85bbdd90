"""gridloop console: the operations console, with its own read model of the case loop."""
