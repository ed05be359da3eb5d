"""The inbound listener: binds the port, accepts connections, runs background jobs, shuts down cleanly."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import SHUTDOWN
from eventsocket.server.acl import AclRegistry
from eventsocket.server.backend import ControlledCall, SwitchBackend
from eventsocket.server.commands import Command
from eventsocket.server.connection import Connection
from eventsocket.server.outbound import OutboundConnection, connect_outbound
from eventsocket.server.settings import EventSocketSettings

log = logging.getLogger("eventsocket.server")


BIND_RETRY_LOG_INTERVAL = 10.0


class BindError(OSError):
    """The listen address could not be bound (and no retry was asked for)."""


def make_listen_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket; ``::`` is dual stack (IPv4 peers appear as ``::ffff:a.b.c.d``)."""
    address: tuple[str, int] | tuple[str, int, int, int]
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host.split("%")[0]).version == 6 else socket.AF_INET
        address = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    except ValueError:  # a host name
        resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family = resolved[0][0]
        address = (str(resolved[0][4][0]), int(resolved[0][4][1]))
    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on every accepted socket, as FreeSWITCH does
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            unspecified = ipaddress.ip_address(host.split("%")[0]).is_unspecified if ":" in host else False
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if unspecified else 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class EventSocketServer:
    """mod_event_socket over a switch: the listening socket, its connections, background jobs.

    ``backend`` is anything that implements :class:`~eventsocket.server.backend.SwitchBackend`
    (the embedded switch, ``eventsocket.switch.builder.build_switch()``, is one).
    """

    def __init__(
        self,
        backend: SwitchBackend,
        settings: EventSocketSettings,
        acl: AclRegistry | None = None,
        *,
        extra_commands: Sequence[Command] = (),
    ) -> None:
        self.backend = backend
        # commands beyond FreeSWITCH's, tried after the table's own (server/commands.py)
        self.extra_commands = tuple(extra_commands)
        self.settings = settings
        self.acl = acl or AclRegistry()
        self.connections: set[Connection] = set()
        self.inbound: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self.jobs_started = 0
        # how ``reload mod_event_socket`` reads the configuration again (set by the CLI)
        self.reload_settings: Callable[[], EventSocketSettings] | None = None
        backend.set_outbound_connector(self._connect_outbound)

    async def _connect_outbound(
        self, call: ControlledCall, host: str, port: int, async_mode: bool, full: bool
    ) -> OutboundConnection | None:
        return await connect_outbound(self, call, host, port, async_mode, full)

    @property
    def port(self) -> int:
        """The bound port (useful when listening on port 0)."""
        if self._server is None or not self._server.sockets:
            return self.settings.listen_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, *, retry: bool | None = None) -> None:
        """Bind and listen.

        When the address cannot be bound, raise :class:`BindError`, or with ``retry`` (by
        default the ``retry-on-bind-error`` setting, unless ``stop-on-bind-error`` is set)
        try again every 100 ms as FreeSWITCH does, logging once every 10 s.
        """
        settings = self.settings
        if retry is None:
            retry = settings.retry_on_bind_error and not settings.stop_on_bind_error
        loop = asyncio.get_running_loop()
        last_logged = -BIND_RETRY_LOG_INTERVAL
        while True:
            try:
                sock = make_listen_socket(settings.listen_ip, settings.listen_port, settings.backlog)
                break
            except OSError as exc:
                if not retry:
                    raise BindError(
                        exc.errno,
                        f"cannot listen on {settings.listen_ip} port {settings.listen_port}: {exc.strerror}",
                    ) from exc
                if loop.time() - last_logged >= BIND_RETRY_LOG_INTERVAL:
                    last_logged = loop.time()
                    log.error(
                        "Socket Error! Could not listen on %s:%s (%s); retrying",
                        settings.listen_ip,
                        settings.listen_port,
                        exc.strerror,
                    )
                await asyncio.sleep(0.1)
        # the backlog again: asyncio and uvloop call listen() themselves, with 100 unless told
        self._server = await loop.create_server(lambda: Connection(self), sock=sock, backlog=settings.backlog)

    async def stop(self, message: str = SHUTDOWN, *, cancel_jobs: bool = True) -> None:
        """Stop listening, tell every connection the system is shutting down, close them."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close(message, abort_after=1.0)
        if cancel_jobs:
            for task in list(self._jobs):
                task.cancel()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            except (TimeoutError, OSError):
                pass
            self._server = None

    # -- unload / reload mod_event_socket ------------------------------------------------------

    def module_command(self, job_uuid: str, action: str) -> None:
        """``api|bgapi unload|reload mod_event_socket``, run as FreeSWITCH's rewrite does: a background job.

        Every connection gets ``The system is being shut down.``; on reload the listener
        comes back with the configuration read again (``reload_settings``).
        """
        task = asyncio.ensure_future(self._module_job(job_uuid, action))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _module_job(self, job_uuid: str, action: str) -> None:
        await asyncio.sleep(0)  # the reply goes out first
        await self.stop(SHUTDOWN, cancel_jobs=False)
        output = "+OK\n"
        if action == "reload":
            if self.reload_settings is not None:
                self.settings = self.reload_settings()
            await self.start(retry=True)  # the old socket may linger a moment; FreeSWITCH retries too
            output = "+OK Reloading XML\n+OK module unloaded\n+OK module loaded\n"
        self._fire_job(job_uuid, action, "mod_event_socket", None, output)

    # -- bgapi -------------------------------------------------------------------------------

    def run_background_job(self, job_uuid: str, command: str, args: str, owner_uuid: str | None) -> None:
        """Run ``command`` apart from the connection and fire BACKGROUND_JOB with its output.

        The job belongs to the switch, not to the connection: it finishes and fires even
        if the client that asked for it has gone.
        """
        self.jobs_started += 1
        outcome = self.backend.call_api(command, args, owner_uuid)
        if outcome is None or isinstance(outcome, str):
            self._fire_job(job_uuid, command, args, owner_uuid, outcome)
            return
        task = asyncio.ensure_future(self._await_job(job_uuid, command, args, owner_uuid, outcome))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _await_job(
        self, job_uuid: str, command: str, args: str, owner_uuid: str | None, outcome: Awaitable[str | None]
    ) -> None:
        try:
            output = await outcome
        except Exception:
            log.exception("background job %s failed", job_uuid)
            output = None
        self._fire_job(job_uuid, command, args, owner_uuid, output)

    def _fire_job(
        self, job_uuid: str, command: str, args: str, owner_uuid: str | None, output: str | None
    ) -> None:
        command = command.strip()
        args = args.strip()
        body = f"-ERR {command} Command not found!\n" if output is None else output
        headers = [("Job-UUID", job_uuid)]
        if owner_uuid:  # absent on plain inbound connections
            headers.append(("Job-Owner-UUID", owner_uuid))
        headers.append(("Job-Command", command))
        if args:
            headers.append(("Job-Command-Arg", args))
        backend = self.backend

        def build() -> Event:
            event = Event(
                "BACKGROUND_JOB",
                backend.standard_headers("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1572),
                body or None,
            )
            for key, value in headers:
                event.add(key, value)
            return event

        backend.fire_new_event(build)
