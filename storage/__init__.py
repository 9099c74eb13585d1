"""Durable-store plumbing shared by pricing and providers: the SQLite file and Redis connections."""
