"""The lazy command group behind `ketaclinic`: a command's module is imported the first time it is looked up.

Typer (0.2x) coerces every parameter through a pydantic TypeAdapter, and importing pydantic for that costs about
100 ms, most of the start-up budget. Parameters that are plain `str`, `int`, `float` or `bool` (with or without
`None`) get a small converter here instead; anything else (paths, lists, ranges, choices) keeps Typer's own
coercion. When Typer's internals differ (another Typer version) nothing is replaced and Typer coerces everything.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

import typer
from typer.core import TyperGroup
from typer.main import get_group

try:  # Typer >= 0.25: per-parameter runtime coercion objects
    from typer._coercion import RuntimeParam as _RuntimeParam
except ImportError:  # pragma: no cover - older Typer coerces through click types, already cheap
    _RuntimeParam = None  # type: ignore[assignment,misc]

_LABELS = {str: "text", int: "integer", float: "number", bool: "boolean"}


def _plain_type(annotation: Any) -> type | None:
    """`str`, `int`, `float` or `bool` for an annotation that is one of them, optionally `| None`."""
    if annotation in _LABELS:
        return annotation  # type: ignore[no-any-return]
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1 and rest[0] in _LABELS:
            return rest[0]  # type: ignore[no-any-return]
    return None


if _RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainRuntimeParam(_RuntimeParam):
        """Converts one command-line string to `str`, `int`, `float` or `bool` without pydantic."""

        target: type

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, self.target) and not (self.target is int and isinstance(value, bool)):
                return value
            if self.target is bool:
                text = str(value).strip().lower()
                if text in ("1", "true", "yes", "on"):
                    return True
                if text in ("0", "false", "no", "off"):
                    return False
            elif isinstance(value, str):
                try:
                    return self.target(value)
                except ValueError:
                    pass
            raise typer.BadParameter(
                f"{value!r} is not a valid {_LABELS[self.target]}.", ctx=ctx, param=param
            )


def _use_plain_coercion(params: Iterable[Any]) -> None:
    if _RuntimeParam is None:
        return
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if desc is None or getattr(param, "_runtime_param", False) is not None:
            continue
        target = _plain_type(desc.annotation)
        info = desc.parameter_info
        if target is None or desc.is_choice or desc.is_ranged or getattr(info, "parser", None) is not None:
            continue
        if getattr(info, "click_type", None) is not None:
            continue
        param._runtime_param = _PlainRuntimeParam(
            parameter_info=info, annotation=desc.annotation, target=target
        )


def _prepare(command: Any) -> None:
    _use_plain_coercion(command.params)
    # Click builds each command's --help option on demand; give it the plain converter as it is built.
    build_help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = build_help_option(ctx)
        if option is not None:
            _use_plain_coercion([option])
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _prepare(sub)


class LazyGroup(TyperGroup):
    """A command group whose commands come from `register(app)` modules, imported on first lookup.

    `lazy_commands` is a sequence of (module under ketaclinic.cli, command names that module registers).
    """

    lazy_commands: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _prepare(self)

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.commands)
        return names + [n for _m, ns in self.lazy_commands for n in ns if n not in self.commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            for module, names in self.lazy_commands:
                if cmd_name in names:
                    self._load(module)
                    break
        return self.commands.get(cmd_name)

    def _load(self, module: str) -> None:
        sub = typer.Typer(rich_markup_mode=None)
        register: Callable[[typer.Typer], None] = importlib.import_module(f"ketaclinic.cli.{module}").register
        register(sub)
        for name, command in get_group(sub).commands.items():
            _prepare(command)
            self.commands.setdefault(name, command)
