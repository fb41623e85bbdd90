"""One adapter per reporting channel; each turns its request into the canonical Submission."""
