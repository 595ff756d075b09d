"""Reads of this domain: <noun>_<verb> selectors."""
