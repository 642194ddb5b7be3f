"""The embedded local platform: AWS emulator, PostgreSQL with WAL archiving, ingest service."""
