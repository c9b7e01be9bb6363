"""Encoders: where weights come from, loading them, batch inference tied to input order."""
