"""Witness signatures: a second person re-enters their password to co-sign a ledger entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketaclinic.web.accounts.roles import Role
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User

WITNESS_ROLES = frozenset({Role.PRESCRIBER.value, Role.NURSE.value, Role.CUSTODIAN.value})


@dataclass(frozen=True, slots=True)
class WitnessSignature:
    """Proof that `witness_id` re-entered their password for `actor_id` in `clinic_id`, made only by
    `authenticate_witness`. Lets a caller authenticate once, outside its own transaction (so a failure is
    counted and audited even though the write is refused), then pass the proof instead of the password."""

    witness_id: int
    actor_id: int
    clinic_id: int


_WITNESS_REFUSED = "the witness's password is not correct"


def authenticate_witness(
    *,
    actor: User,
    clinic: Clinic,
    witness: User | None,
    password: str | None,
    field: str = "witness",
    request: HttpRequest | None = None,
    code: str | None = None,
) -> WitnessSignature:
    """A witness is another active clinical or custody member of the clinic who re-enters their password.

    The password goes through the sign-in path (accounts.authn): rate limited per client address and per
    witness, failures counted toward the witness's lockout, a locked or inactive account refused, every
    attempt audited. It runs before any stock check, so the error of a wrong password never depends on the
    quantity or the balance. A witness who needs two-factor sign-in (accounts.twofactor) also gives a current
    code from their authenticator app (or a recovery code), checked the same way as at sign-in (`<field>_code`).
    """
    from ketaclinic.web.accounts import authn
    from ketaclinic.web.accounts.throttle import check_auth_rate
    from ketaclinic.web.lib.audit import client_ip

    if witness is None:
        raise ValidationFailed({field: ["a witness is required"]})
    if witness.pk == actor.pk:
        raise ValidationFailed({field: ["the witness must be someone other than you"]})
    from ketaclinic.web.accounts.models import Membership, effective_membership_q

    if not Membership.objects.filter(
        effective_membership_q(), user_id=witness.pk, clinic_id=clinic.pk, role__in=WITNESS_ROLES
    ).exists():
        raise ValidationFailed(
            {field: ["the witness must be a prescriber, nurse or custodian of this clinic"]}
        )
    check_auth_rate(kind="witness", address=client_ip(request), username=witness.get_username())
    outcome, _ = authn.check_password(
        username=witness.get_username(),
        password=password or "",
        request=request,
        purpose="witness",
        user=witness,
    )
    if outcome is authn.Outcome.INACTIVE:
        raise ValidationFailed({field: ["the witness's account is inactive"]})
    if outcome is authn.Outcome.LOCKED:
        raise ValidationFailed(
            {
                f"{field}_password": [
                    "the witness's account is locked after repeated failed attempts; try again later"
                ]
            }
        )
    if outcome is not authn.Outcome.OK:
        raise ValidationFailed({f"{field}_password": [_WITNESS_REFUSED]})
    _check_witness_code(witness, code, field, request)
    return WitnessSignature(witness_id=witness.pk, actor_id=actor.pk, clinic_id=clinic.pk)


def _check_witness_code(witness: User, code: str | None, field: str, request: HttpRequest | None) -> None:
    from ketaclinic.web.accounts import twofactor

    if not twofactor.needs_second_factor(witness):
        return
    if twofactor.confirmed_device(witness) is None:
        raise ValidationFailed(
            {
                f"{field}_code": [
                    "the witness must set up two-factor sign-in (at their next sign-in) before signing"
                ]
            }
        )
    if not (code or "").strip():
        raise ValidationFailed({f"{field}_code": ["enter the code from the witness's authenticator app"]})
    twofactor.verify_second_factor(
        user=witness, code=code or "", request=request, purpose="witness", field=f"{field}_code"
    )


def _authenticate_witness(
    actor: User,
    clinic: Clinic,
    witness: User | None,
    password: str | WitnessSignature | None,
    field: str,
    request: HttpRequest | None,
    code: str | None = None,
) -> None:
    if isinstance(password, WitnessSignature) and witness is not None:
        if password == WitnessSignature(witness_id=witness.pk, actor_id=actor.pk, clinic_id=clinic.pk):
            return
        raise ValidationFailed({field: ["the witness signature belongs to another witness, actor or clinic"]})
    authenticate_witness(
        actor=actor,
        clinic=clinic,
        witness=witness,
        password=password if isinstance(password, str) else None,
        field=field,
        request=request,
        code=code,
    )


def _authenticate_second_witness(
    actor: User,
    clinic: Clinic,
    witness: User | None,
    second_witness: User | None,
    password: str | WitnessSignature | None,
    request: HttpRequest | None,
    code: str | None = None,
) -> None:
    """The second witness authenticates like the first and must be a different person. (The first witness has
    been authenticated already, so it is never None here.)"""
    if second_witness is not None and witness is not None and second_witness.pk == witness.pk:
        raise ValidationFailed({"second_witness": ["must be a different person from the first witness"]})
    _authenticate_witness(actor, clinic, second_witness, password, "second_witness", request, code)
