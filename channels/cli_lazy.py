"""Commands of `companion` whose modules are imported only when they run.

`companion --help` lists every command from the short help written here, without importing
the web, Telegram, bridge, model or eval modules (each pulls in Chainlit, python-telegram-bot,
FastAPI or LangChain); running a command imports just its own module. A command module is named
as "module:attribute", the attribute being one of:

- a command function (`def web_command(...)`), registered under `name`;
- a `typer.Typer` of sub-commands (`bridge_app`), added as the group `name`;
- a `register(app)` function that adds commands to an app (`channels.cli_ops.register`): the
  same spec, one `LazyCommand` per command name it adds.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """One command or group of `companion`, imported from `target` when first run."""

    name: str
    target: str  # "package.module:attribute"
    help: str  # the line `companion --help` shows
    kind: Literal["command", "group", "register"] = "command"

    def load(self) -> Any:
        """The command (a TyperCommand, or a TyperGroup for a group), imported now."""
        module, attribute = self.target.split(":")
        obj = getattr(importlib.import_module(module), attribute)
        if self.kind == "group":
            group = typer.main.get_group(obj)
            group.name, group.help = self.name, self.help  # as `add_typer(help=...)` would
            return group
        holder = typer.Typer()
        if self.kind == "register":
            obj(holder)
        else:
            holder.command(self.name)(obj)  # its own docstring is its --help
            holder.callback()(lambda: None)  # keep a group, so the command keeps its name
        return typer.main.get_group(holder).commands[self.name]


class LazyGroup(TyperGroup):
    """A Typer group that lists `lazy` commands from their specs and loads one when it runs."""

    lazy: ClassVar[tuple[LazyCommand, ...]] = ()
    _listing = False  # inside format_help: a placeholder per lazy command is enough

    def _specs(self) -> dict[str, LazyCommand]:
        return {spec.name: spec for spec in self.lazy if spec.name not in self.commands}

    def list_commands(self, ctx: Any) -> list[str]:
        """Commands first, then groups, as Typer lists them; lazy ones after eager ones."""
        eager = super().list_commands(ctx)
        specs = self._specs()

        def is_group(name: str) -> bool:
            return (specs[name].kind == "group" if name in specs
                    else isinstance(self.commands[name], TyperGroup))

        names = eager + list(specs)
        return [n for n in names if not is_group(n)] + [n for n in names if is_group(n)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        spec = self._specs().get(cmd_name) if found is None else None
        if spec is None:
            return found
        if self._listing:
            if spec.kind == "group":
                return TyperGroup(name=spec.name, help=spec.help)
            return TyperCommand(spec.name, help=spec.help)
        command = spec.load()
        self.add_command(command, spec.name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


class LazyModule:
    """A module imported on first attribute access (`render.table(...)` imports it then)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)
