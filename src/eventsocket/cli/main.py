"""``eventsocket``: the command line (``serve``, ``console``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from eventsocket import __version__

log = logging.getLogger("eventsocket")


def _install_uvloop() -> str:
    """Use uvloop when it is installed (it is an optional extra)."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


async def serve(args: argparse.Namespace) -> int:
    """Load the conf_dir, start the switch core and the event socket, run until a signal."""
    from eventsocket.server.acl import AclRegistry
    from eventsocket.server.listener import BindError, EventSocketServer
    from eventsocket.server.settings import EventSocketSettings
    from eventsocket.switch.builder import build_switch
    from eventsocket.switch.config import ConfDir, ConfigError

    try:
        conf = ConfDir.load(args.conf_dir)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    settings = EventSocketSettings.from_conf(conf).with_overrides(
        listen_ip=args.listen_ip, listen_port=args.listen_port, password=args.password
    )
    if args.heartbeat is not None:
        settings.heartbeat_interval = args.heartbeat
    acl_conf = conf.configuration("acl.conf")
    acl = AclRegistry.from_xml(
        acl_conf.find("network-lists") if acl_conf is not None else None, conf.domain_cidrs
    )
    clock = None
    if args.virtual_time:
        from eventsocket.switch.virtualtime import VirtualClock

        clock = VirtualClock()
    core = build_switch(conf, heartbeat_interval=settings.heartbeat_interval, clock=clock)
    server = EventSocketServer(core, settings, acl)

    def reload_settings() -> EventSocketSettings:
        try:
            fresh = ConfDir.load(args.conf_dir)
        except ConfigError as exc:
            log.error("reload: %s; keeping the running settings", exc)
            return server.settings
        reloaded = EventSocketSettings.from_conf(fresh).with_overrides(
            listen_ip=args.listen_ip, listen_port=args.listen_port, password=args.password
        )
        reloaded.heartbeat_interval = settings.heartbeat_interval
        return reloaded

    server.reload_settings = reload_settings
    try:
        await server.start()
    except BindError as exc:
        log.error(
            "%s; choose another port with --listen-port (or set retry-on-bind-error in "
            "event_socket.conf.xml to wait for it)",
            exc.strerror,
        )
        return 1
    await core.start()
    if not settings.is_loopback_only() and settings.password == "ClueCon":
        log.warning(
            "listening on %s beyond loopback with the default password ClueCon: set a password "
            "in event_socket.conf.xml or with --password",
            settings.listen_ip,
        )
    log.info(
        "eventsocket %s listening on %s port %s (%s)",
        __version__,
        settings.listen_ip,
        server.port,
        args.loop_name,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    await core.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventsocket", description="FreeSWITCH's event socket in Python.")
    parser.add_argument("--version", action="version", version=f"eventsocket {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the event socket server over the embedded switch core")
    run.add_argument("--conf-dir", help="a FreeSWITCH-style conf directory (default: the built-in one)")
    run.add_argument("--listen-ip", help="override listen-ip from event_socket.conf")
    run.add_argument("--listen-port", type=int, help="override listen-port from event_socket.conf")
    run.add_argument("--password", help="override password from event_socket.conf")
    run.add_argument("--heartbeat", type=float, help="seconds between HEARTBEAT events (0: none)")
    run.add_argument(
        "--virtual-time",
        action="store_true",
        help="run calls on a virtual clock that jumps ahead whenever nothing is runnable",
    )
    run.add_argument(
        "--quiet-window",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="with --virtual-time: real seconds of quiet after talking to a client before the clock "
        "jumps, so clients in other processes can react (default 0.1)",
    )
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    from eventsocket.cli.console import add_arguments as add_console_arguments

    console = sub.add_parser(
        "console", help="an fs_cli for any event socket server (FreeSWITCH or eventsocket)",
        description="fs_cli's flags and slash commands; profiles from ~/.config/eventsocket/console.toml "
        "or ~/.fs_cli_conf.",
    )
    add_console_arguments(console)
    from eventsocket.gateway.command import add_arguments as add_gateway_arguments

    add_gateway_arguments(sub.add_parser(
        "gateway", help="one event socket front for many switch nodes, on NATS JetStream (docs/gateway.md)"
    ))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "console":
        from eventsocket.cli.console import main as console_main

        return console_main(args)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "serve":
        try:
            if args.virtual_time:
                from eventsocket.switch.virtualtime import run_virtual

                args.loop_name = "virtual time"
                return run_virtual(serve(args), window=args.quiet_window)
            args.loop_name = _install_uvloop()
            return asyncio.run(serve(args))
        except KeyboardInterrupt:
            return 0
    if args.command == "gateway":
        from eventsocket.gateway.command import run as run_gateway

        try:
            args.loop_name = _install_uvloop()
            return asyncio.run(run_gateway(args))
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
