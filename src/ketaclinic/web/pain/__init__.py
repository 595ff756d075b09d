"""Pain programme: pain indications, opioid medication list in MME/day, opioid sparing, pre-infusion opioid load."""
