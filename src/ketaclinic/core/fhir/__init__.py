"""ketaclinic.core.fhir."""
