"""Load tests of the ingest path: payload generators, locustfiles, campaigns."""
