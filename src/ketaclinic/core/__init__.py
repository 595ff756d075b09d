"""Pure clinical logic: scales, screening rules, protocols, PK, ledger hashing, FHIR mapping. Never imports Django."""
