"""ketaclinic.core.instruments."""
