"""ketaclinic.web.treatment."""
