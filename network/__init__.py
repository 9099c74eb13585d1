"""Compiled city networks: the files, their cache key, the embedded city, the stop index."""
