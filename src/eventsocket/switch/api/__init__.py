"""API commands: the registry and the call context every command function receives.

A command function takes an :class:`ApiCall` and returns its output text, either
directly or as an awaitable (for commands that wait, like ``msleep`` or
``originate``). Raising :class:`ApiError` is FreeSWITCH's "function returned
failure": the socket layer then answers ``-ERR <cmd> Command not found!``.
Families of commands live in sibling modules, each with a ``register`` function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore


class ApiError(Exception):
    """The command failed in a way FreeSWITCH reports as "Command not found"."""


@dataclass(slots=True)
class ApiCall:
    """One execution of an API command."""

    core: SwitchCore
    command: str
    args: str
    session_uuid: str | None = None


ApiResult = str | Awaitable[str]
ApiFunction = Callable[[ApiCall], ApiResult]


@dataclass(slots=True, frozen=True)
class ApiCommand:
    name: str
    description: str
    syntax: str
    module: str
    function: ApiFunction


class ApiRegistry:
    """Name -> command, case-insensitive, in registration order."""

    def __init__(self) -> None:
        self._commands: dict[str, ApiCommand] = {}

    def add(self, name: str, description: str, syntax: str, module: str, function: ApiFunction) -> None:
        self._commands[name.lower()] = ApiCommand(name, description, syntax, module, function)

    def command(
        self, name: str, description: str = "", syntax: str = "", module: str = "mod_commands"
    ) -> Callable[[ApiFunction], ApiFunction]:
        """Decorator form of :meth:`add`."""

        def decorate(function: ApiFunction) -> ApiFunction:
            self.add(name, description, syntax, module, function)
            return function

        return decorate

    def get(self, name: str) -> ApiCommand | None:
        return self._commands.get(name.lower())

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._commands

    def __iter__(self) -> Iterator[ApiCommand]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)
