"""Reference generators that return their ground truth (filled in by integration)."""
