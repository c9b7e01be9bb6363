"""Run artifacts (the saved model folder) and exports a marketer opens."""
