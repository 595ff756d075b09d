"""`ketaclinic staff`: the operator's staff lifecycle (invite, grant, approve, revoke, deactivate, reset, tokens,
the clinic's registrant and cooling-off period). The operator holds the server, so their grants need no approval;
every change is audited as made by the operator."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ketaclinic.cli._common import emit_json, fail

staff_app = typer.Typer(
    name="staff",
    help="Staff accounts: invitations, roles, approvals, deactivation, resets.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ClinicOpt = Annotated[str, typer.Option("--clinic", help="Clinic slug.")]


def _setup() -> None:
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()


def _clinic(slug: str) -> Any:
    from ketaclinic.web.clinics.models import Clinic

    row = Clinic.objects.filter(slug=slug).first()
    if row is None:
        fail(f"--clinic: no clinic with slug {slug!r}")
    return row


def _user(username: str, field: str = "username") -> Any:
    from ketaclinic.web.accounts.models import User

    row = User.objects.filter(username__iexact=username).first()
    if row is None:
        fail(f"{field}: no user {username!r}")
    return row


def _run(fn: Any, **kw: Any) -> Any:
    from ketaclinic.web.lib.errors import DomainError

    try:
        return fn(**kw)
    except DomainError as exc:
        fail(exc.message)


def _link(raw: str) -> str:
    return f"/accounts/set-password/{raw}/"


def _out(as_json: bool, obj: dict[str, Any], text: str) -> None:
    if as_json:
        emit_json(obj)
    else:
        typer.echo(text)


@staff_app.command("invite")
def invite_command(
    username: Annotated[str, typer.Argument()],
    clinic: ClinicOpt,
    role: Annotated[list[str], typer.Option("--role", help="Role (repeat).")],
    display_name: Annotated[str, typer.Option()] = "",
    email: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an account without a password; print its one-time set-password link (path on this server)."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    user, raw = _run(
        staff.do_invite_user,
        actor=None,
        clinic=row,
        username=username,
        roles=role,
        display_name=display_name,
        email=email,
    )
    _out(
        as_json, {"user_id": user.pk, "username": user.username, "set_password_path": _link(raw)}, _link(raw)
    )


def _membership(clinic: Any, username: str, role: str) -> int:
    from ketaclinic.web.accounts.models import Membership

    user = _user(username)
    m = Membership.objects.filter(clinic=clinic, user=user, role=role).first()
    if m is None:
        fail(f"--role: {username} has no {role!r} grant in {clinic.slug}")
    return int(m.pk)


@staff_app.command("grant")
def grant_command(
    username: Annotated[str, typer.Argument()],
    clinic: ClinicOpt,
    role: Annotated[str, typer.Option("--role")],
    as_json: JsonOpt = False,
) -> None:
    """Grant a role (in force at once: the operator's grants need no approval)."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    m = _run(staff.do_grant_role, actor=None, clinic=row, user_id=_user(username).pk, role=role)
    _out(as_json, {"membership_id": m.pk, "role": m.role}, f"granted {m.role} to {username} in {row.slug}")


@staff_app.command("approve")
def approve_command(
    username: Annotated[str, typer.Argument()],
    clinic: ClinicOpt,
    role: Annotated[str, typer.Option("--role")],
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending role grant (as the operator)."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    m = _run(staff.do_approve_grant, actor=None, clinic=row, membership_id=_membership(row, username, role))
    _out(as_json, {"membership_id": m.pk, "approved": True}, f"approved {role} of {username} in {row.slug}")


@staff_app.command("revoke")
def revoke_command(
    username: Annotated[str, typer.Argument()],
    clinic: ClinicOpt,
    role: Annotated[str, typer.Option("--role")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke one role (membership) in a clinic."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    m = _run(staff.do_revoke_role, actor=None, clinic=row, membership_id=_membership(row, username, role))
    _out(as_json, {"membership_id": m.pk, "revoked": True}, f"revoked {role} of {username} in {row.slug}")


@staff_app.command("deactivate")
def deactivate_command(
    username: Annotated[str, typer.Argument()], clinic: ClinicOpt, as_json: JsonOpt = False
) -> None:
    """Deactivate an account: no sign-in, sessions end, API tokens revoked."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    u = _run(staff.do_deactivate_user, actor=None, clinic=row, user_id=_user(username).pk)
    _out(as_json, {"user_id": u.pk, "is_active": u.is_active}, f"deactivated {u.username}")


@staff_app.command("reset-password")
def reset_command(
    username: Annotated[str, typer.Argument()], clinic: ClinicOpt, as_json: JsonOpt = False
) -> None:
    """Force a password reset; print the one-time set-password link (path on this server)."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    u, raw = _run(staff.do_force_password_reset, actor=None, clinic=row, user_id=_user(username).pk)
    _out(as_json, {"user_id": u.pk, "set_password_path": _link(raw)}, _link(raw))


@staff_app.command("revoke-tokens")
def revoke_tokens_command(
    username: Annotated[str, typer.Argument()], clinic: ClinicOpt, as_json: JsonOpt = False
) -> None:
    """Revoke every live API token of a user."""
    _setup()
    from ketaclinic.web.accounts import staff

    row = _clinic(clinic)
    n = _run(staff.do_revoke_user_tokens, actor=None, clinic=row, user_id=_user(username).pk)
    _out(as_json, {"revoked": n}, f"revoked {n} token(s) of {username}")


@staff_app.command("reset-2fa")
def reset_two_factor_command(
    username: Annotated[str, typer.Argument()], clinic: ClinicOpt, as_json: JsonOpt = False
) -> None:
    """Remove a user's authenticator and recovery codes; they set up two-factor sign-in again at next sign-in."""
    _setup()
    from ketaclinic.web.accounts import twofactor

    row = _clinic(clinic)
    u = _run(twofactor.do_reset_two_factor, actor=None, clinic=row, user_id=_user(username).pk)
    _out(as_json, {"user_id": u.pk, "reset": True}, f"two-factor sign-in of {username} reset")


@staff_app.command("policy")
def policy_command(
    clinic: ClinicOpt,
    registrant: Annotated[
        str | None, typer.Option("--registrant", help="Username of the registrant.")
    ] = None,
    cooling_off_hours: Annotated[
        int | None, typer.Option("--cooling-off-hours", help="0: grants wait for approval only.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Name the clinic's registrant (who may approve role grants) and its cooling-off period."""
    _setup()
    from ketaclinic.web.clinics.actions import do_set_staff_policy

    row = _clinic(clinic)
    reg = _user(registrant, "--registrant") if registrant else None
    out = _run(
        do_set_staff_policy,
        clinic=row,
        registrant=reg,
        cooling_off_hours=cooling_off_hours,
        operator="operator (command line)",
    )
    obj = {
        "clinic": out.slug,
        "registrant": out.registrant.username if out.registrant else None,
        "cooling_off_hours": out.grant_cooling_off_hours,
    }
    _out(
        as_json,
        obj,
        f"{out.slug}: registrant {obj['registrant'] or 'none'}, cooling-off {obj['cooling_off_hours']} h",
    )


def register(app: typer.Typer) -> None:
    """Add the `staff` sub-app."""
    app.add_typer(staff_app, name="staff")
