"""Training the engine: a run (runs), what it measures (evaluation), its tables (report), its jobs (tasks)."""
