"""ketaclinic.core.pk."""
