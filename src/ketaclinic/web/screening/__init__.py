"""ketaclinic.web.screening."""
