"""The Django project: settings, apps, API, templates."""
