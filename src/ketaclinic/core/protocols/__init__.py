"""ketaclinic.core.protocols."""
