"""The research database: models, engine, store, run log and migrations."""
