"""What the app needs beside the pipeline: background jobs, saved runs, the current dataset."""
