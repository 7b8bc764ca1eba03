"""A local, offline, terminal voice assistant."""
