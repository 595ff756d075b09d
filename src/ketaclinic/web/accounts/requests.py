"""The request type of pages and API endpoints that only a signed-in person reaches."""

from __future__ import annotations

from django.http import HttpRequest

from ketaclinic.web.accounts.models import User


class SignedInRequest(HttpRequest):
    """Django's request behind `login_required` or the API's authentication, where `user` is always an account
    (never the anonymous user). Only an annotation: Django builds the request object as usual."""

    user: User
