"""Accounts: users, clinic memberships with roles, API tokens, sign-in lockout."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaclinic.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"
