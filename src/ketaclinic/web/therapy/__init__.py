"""Preparation, integration and psychotherapy sessions around dosing, and psychotherapy notes kept apart from the record."""
