"""The inbound listener: binds the port, accepts connections, runs background jobs, shuts down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import AUTH_REQUEST, SHUTDOWN
from eventsocket.server.acl import AclRegistry
from eventsocket.server.backend import ControlledCall, SwitchBackend
from eventsocket.server.commands import Command
from eventsocket.server.connection import Connection
from eventsocket.server.outbound import OutboundConnection, connect_outbound
from eventsocket.server.settings import EventSocketSettings

log = logging.getLogger("eventsocket.server")


BIND_RETRY_LOG_INTERVAL = 10.0
#: clients accepted per readiness of the listening socket (asyncio's own limit is the backlog)
ACCEPT_BATCH = 128


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
        self._listening: socket.socket | None = None
        self._handoffs: set[asyncio.Task[object]] = set()
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
        if self._listening is None:
            return self.settings.listen_port
        return int(self._listening.getsockname()[1])

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
        self._listening = sock
        loop.add_reader(sock.fileno(), self._accept_ready)

    # -- accepting -------------------------------------------------------------------------------

    def _accept_ready(self) -> None:
        """Accept every waiting client (up to a batch) and greet it at once.

        The server accepts by itself instead of through ``create_server``: libuv (uvloop)
        accepts one connection per loop iteration, so under load new clients queued in the
        backlog, overflowed it and waited for TCP's SYN retries (seconds). Greeting here,
        before the connection's transport exists, makes the greeting's wait at most one
        loop iteration, like any connected client's.
        """
        listening = self._listening
        if listening is None:
            return
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPT_BATCH):
            try:
                conn, address = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors: stop accepting for a moment instead of spinning
                    log.error("accept failed (%s); pausing accepts for 1 s", exc.strerror)
                    loop.remove_reader(listening.fileno())
                    loop.call_later(1.0, self._resume_accepting, listening)
                    return
                continue  # ECONNABORTED and the like: that client is gone
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            factory = functools.partial(Connection, self, greeted=self._greet(conn, address))
            task: asyncio.Task[object] = loop.create_task(loop.connect_accepted_socket(factory, conn))
            self._handoffs.add(task)
            task.add_done_callback(self._handed_off)

    def _greet(self, conn: socket.socket, address: object) -> bool:
        """Send the greeting now, unless the ACL or max-connections will turn the client away."""
        host = str(address[0]) if isinstance(address, tuple) and address else ""
        if self.acl.first_rejecting(self.settings.apply_inbound_acl, host) is not None:
            return False
        if len(self.inbound) + len(self._handoffs) >= self.settings.max_connections:
            return False
        try:
            return conn.send(AUTH_REQUEST) == len(AUTH_REQUEST)
        except OSError:
            return False

    def _handed_off(self, task: asyncio.Task[object]) -> None:
        self._handoffs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("a new connection was lost before it started: %s", task.exception())

    def _resume_accepting(self, listening: socket.socket) -> None:
        if self._listening is listening:
            asyncio.get_running_loop().add_reader(listening.fileno(), self._accept_ready)

    async def stop(self, message: str = SHUTDOWN, *, cancel_jobs: bool = True) -> None:
        """Stop listening, tell every connection the system is shutting down, close them."""
        listening = self._listening
        if listening is not None:
            self._listening = None
            asyncio.get_running_loop().remove_reader(listening.fileno())
            listening.close()
        for task in list(self._handoffs):
            task.cancel()
        for conn in list(self.connections):
            conn.close(message, abort_after=1.0)
        if cancel_jobs:
            for task in list(self._jobs):
                task.cancel()
        await asyncio.sleep(0)

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

        backend.fire_new_event(build, "BACKGROUND_JOB")
