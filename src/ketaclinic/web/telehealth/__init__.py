"""Telehealth visits: modality, the patient's location, the video link and consent, decided by the jurisdiction rules."""
