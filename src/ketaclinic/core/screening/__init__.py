"""ketaclinic.core.screening."""
