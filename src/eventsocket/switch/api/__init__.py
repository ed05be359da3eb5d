"""API commands (mod_commands and friends), by family; each module has a ``register`` function.

A command function takes an :class:`ApiCall` and returns its output text, either
directly or as an awaitable (for commands that wait, like ``msleep`` or
``originate``). Raising :class:`ApiError` is FreeSWITCH's "function returned
failure": the socket layer then answers ``-ERR <cmd> Command not found!``.

The registry itself is the core's (:mod:`eventsocket.switch.core`), as in FreeSWITCH
where modules register their API interfaces into the core; its names are re-exported
here for the command modules. ``eventsocket.switch.builder`` loads the families.
"""

from __future__ import annotations

from eventsocket.switch.core import ApiCall, ApiCommand, ApiError, ApiFunction, ApiRegistry, ApiResult

__all__ = ["ApiCall", "ApiCommand", "ApiError", "ApiFunction", "ApiRegistry", "ApiResult"]
