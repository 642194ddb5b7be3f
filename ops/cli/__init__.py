"""The `ops` command line."""
