"""Clinic outcomes: cohort response and remission, trajectories, durability and safety, de-identified."""
