"""ketaclinic.web.assessments."""
