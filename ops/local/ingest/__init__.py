"""The ingest service: the migrated ingest endpoint's contract, persisted to PostgreSQL."""
