"""ketaclinic.core.terminology."""
