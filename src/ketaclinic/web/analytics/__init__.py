"""ketaclinic.web.analytics."""
