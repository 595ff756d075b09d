"""Shared web plumbing (template tags, access, audit, live) as an app so Django finds its templatetags."""

from django.apps import AppConfig


class LibConfig(AppConfig):
    name = "ketaclinic.web.lib"
    label = "kclib"
    verbose_name = "ketaclinic web library"
