"""The patient's page for one dosing session: preparation and attendance before it, integration prompts and questionnaires after."""
