"""Django app config for ledger."""

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ketaclinic.web.ledger"
    label = "ledger"
    verbose_name = "Ledger"
