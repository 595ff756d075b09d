"""ketaclinic.web.monitoring."""
