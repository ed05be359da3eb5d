"""``eventsocket gateway``: its command-line options and its run until a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket

__all__ = ["add_arguments", "run"]

log = logging.getLogger("eventsocket.gateway")


def _default_name() -> str:
    """The host name as one subject token (the name events fired by this gateway carry)."""
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())
    return ("gw-" + name)[:64]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nats", action="append", required=True, metavar="URL",
                        help="a NATS server, nats://HOST:4222 (repeat, or commas, for a cluster)")
    parser.add_argument("--upstream", action="append", required=True, metavar="NAME=HOST:PORT:PASSWORD",
                        help="a switch node's event socket (repeat for every node)")
    parser.add_argument("--name", default=None,
                        help="this gateway instance's name (letters, digits, - and _; default gw-<hostname>)")
    parser.add_argument("--conf-dir", help="a FreeSWITCH-style conf directory for the listener "
                        "(password, ACL, userauth directory); default: the built-in one")
    parser.add_argument("--listen-ip", help="override listen-ip from event_socket.conf")
    parser.add_argument("--listen-port", type=int, help="override listen-port from event_socket.conf")
    parser.add_argument("--password", help="override password from event_socket.conf")
    parser.add_argument("--prefer", action="append", default=[], metavar="NODE",
                        help="originate on this node when it is up (repeat: in order); default round-robin")
    parser.add_argument("--forget-after", type=float, default=30.0, metavar="SECONDS",
                        help="a node away this long has its calls marked gone (default 30)")
    parser.add_argument("--max-age", type=float, default=24 * 3600.0, metavar="SECONDS",
                        help="how long the stream keeps events (how long a durable subscriber may be away)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="JetStream replicas of the stream and bucket (3 on a three-server cluster)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


async def run(args: argparse.Namespace) -> int:
    """Start the gateway and run until SIGINT/SIGTERM."""
    from eventsocket.gateway.service import Gateway, GatewayConfig
    from eventsocket.gateway.store import StoreSettings
    from eventsocket.gateway.upstream import NodeAddress
    from eventsocket.server.acl import AclRegistry
    from eventsocket.server.settings import EventSocketSettings
    from eventsocket.switch.config import ConfDir, ConfigError

    try:
        conf = ConfDir.load(args.conf_dir)
        upstreams = [NodeAddress.parse(text) for text in args.upstream]
        urls = [url.strip() for text in args.nats for url in text.split(",") if url.strip()]
        config = GatewayConfig(
            name=args.name or _default_name(),
            nats_urls=urls,
            upstreams=upstreams,
            store=StoreSettings(max_age=args.max_age, replicas=args.replicas),
            forget_after=args.forget_after,
            prefer=args.prefer,
        )
    except (ConfigError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    settings = EventSocketSettings.from_conf(conf).with_overrides(
        listen_ip=args.listen_ip, listen_port=args.listen_port, password=args.password
    )
    acl_conf = conf.configuration("acl.conf")
    acl = AclRegistry.from_xml(
        acl_conf.find("network-lists") if acl_conf is not None else None, conf.domain_cidrs
    )

    def find_user(user: str, domain: str) -> dict[str, str] | None:
        found = conf.find_user(user, domain)
        return dict(found.params) if found is not None else None

    gateway = Gateway(config, settings, acl, find_user)
    try:
        await gateway.start()
    except Exception as exc:
        log.error("gateway did not start: %s", exc)
        await gateway.stop()
        return 1
    log.info("eventsocket gateway %s listening on %s port %s, nodes %s, NATS %s", config.name,
             settings.listen_ip, gateway.port, ", ".join(n.name for n in upstreams), ", ".join(urls))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await gateway.stop()
    return 0
