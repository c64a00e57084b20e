"""The specialists' directory: hospital departments and specialists' entries (admin writes, teams read)."""
