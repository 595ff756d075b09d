"""ketaclinic.web.decision."""
