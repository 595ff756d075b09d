"""ketaclinic: supervised ketamine therapy, safely and measurably."""

__version__ = "0.1.0"
