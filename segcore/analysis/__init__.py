"""Stage 3: customers, segments, profiles, keywords and the 2-D map from scored reviews."""
