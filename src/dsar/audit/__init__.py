"""Append-only evidence log: hash chaining and its verifier."""
