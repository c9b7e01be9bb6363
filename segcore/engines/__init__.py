"""Scoring engines: apply a saved run to new reviews in one piece, streamed, or on Ray."""
