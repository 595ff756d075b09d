"""Writes of this domain: do_<verb>_<noun> actions, each one transaction with its audit record."""
