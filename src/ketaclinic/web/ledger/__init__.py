"""ketaclinic.web.ledger."""
