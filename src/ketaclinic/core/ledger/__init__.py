"""ketaclinic.core.ledger."""
