"""ketaclinic.web.interop."""
