"""The `hub` command: `hub serve`, `hub gen`, `hub token`, `hub --version`.

`serve` runs a hub process, on a uvloop event loop, until SIGTERM or SIGINT, then drains
within the configured grace period and exits 0. `--role` says which part of the hub it runs
(`config.ROLES`): `all` (default) everything in one process; `gateway` the front ends and
policies; `users` / `mindmaps` one backend service with its store (docs/architecture.md).
Exit codes: 2 for a configuration that cannot be used (the message names each bad key, or
each setting the role needs), 1 when the hub cannot start (e.g. its address is taken).
`token` prints a development token (HS256, signed with the key `hub serve` uses with the same
configuration) for a subject and roles.
Problems are reported as one clear message on stderr, without a traceback. Logs go to
stderr as JSON lines (or for people, on a terminal): `observability.logging`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import uvloop

from hub.app import Hub
from hub.codegen import PROTO_ROOT, generate
from hub.config import ROLES, ConfigError, Role, load_settings
from hub.listening import ListenError
from hub.observability.logging import configure_logging
from hub.policies.auth import hs256_secret, mint_token
from hub.storage.migrations import SchemaTooNewError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2

logger = logging.getLogger("hub")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hub` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.config, args.role)
    if args.command == "token":
        return _token(args.config, args.subject, args.role, args.ttl)
    return _gen()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hub {version('hub')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="run the hub in this process until SIGTERM/SIGINT")
    serve.add_argument("--config", type=Path, default=None, metavar="PATH", help=_CONFIG_HELP)
    serve.add_argument(
        "--role",
        choices=list(ROLES),
        default="all",
        help="what this process runs: all (default: everything, one process), gateway "
        "(front ends and policies), users or mindmaps (one backend service and its store)",
    )
    commands.add_parser("gen", help="regenerate hub/contracts from proto/ (run in a checkout)")
    token = commands.add_parser("token", help="print a development token (HS256) for a subject")
    token.add_argument("subject", help="the token's subject: a user id")
    token.add_argument(
        "--role", action="append", default=[], help="a role of the subject (repeatable): admin"
    )
    token.add_argument(
        "--ttl", type=float, default=3600.0, metavar="SECONDS", help="lifetime (default 3600)"
    )
    token.add_argument("--config", type=Path, default=None, metavar="PATH", help=_CONFIG_HELP)
    return parser


_CONFIG_HELP = "YAML configuration file (default: ./hub.yaml if present)"


def _serve(config: Path | None, role: Role) -> int:
    try:
        settings = load_settings(config, os.environ)
        logs = configure_logging(settings.observability.logging)
        hub = Hub(settings, role=role, access_log=logs.access)
    except ConfigError as error:  # a bad key, a setting the role needs, routes that do not exist
        print(f"hub: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    return uvloop.run(_run(hub))


async def _run(hub: Hub) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await hub.start()
    # An address taken, a data folder not writable, a database unreachable or written by a
    # newer hub: one line, no traceback.
    except (ListenError, OSError, SchemaTooNewError) as error:
        logger.error("cannot start: %s", error)
        return EXIT_FAILED
    logger.info("serving as role %s", hub.role)
    for what, address in hub.listening().items():
        logger.info("%s listening on %s", what, address)
    # What start-up built (modules, descriptors, compiled routes and schemas) lives as long as
    # the process: freeze it out of the cyclic collector, whose full passes over it showed
    # in the tail latency of event fan-out (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    await stop.wait()
    grace = hub.settings.shutdown.grace_period_seconds
    logger.info("draining: stopping within %s s", grace)
    await hub.stop(grace)
    logger.info("stopped")
    return EXIT_OK


def _token(config: Path | None, subject: str, roles: list[str], ttl: float) -> int:
    try:
        settings = load_settings(config, os.environ)
    except ConfigError as error:
        print(f"hub: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    authentication = settings.api_gateway.authentication
    if "HS256" not in authentication.algorithms:
        print(
            "hub token: HS256 is not among api_gateway.authentication.algorithms", file=sys.stderr
        )
        return EXIT_BAD_CONFIG
    secret = hs256_secret(authentication, settings.data_dir)
    print(
        mint_token(
            secret,
            subject,
            roles=roles,
            issuer=authentication.issuer,
            audience=authentication.audience,
            ttl_seconds=ttl,
        )
    )
    return EXIT_OK


def _gen() -> int:
    root = Path.cwd()
    if not (root / PROTO_ROOT).is_dir():
        print(f"hub gen: no {PROTO_ROOT}/ in {root}; run it in a checkout", file=sys.stderr)
        return EXIT_FAILED
    try:
        target = generate(root)
    except ModuleNotFoundError as error:
        print(
            f"hub gen: {error.name} is missing; install the dev extra: pip install -e '.[dev]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except RuntimeError as error:
        print(f"hub gen: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"generated {target}")
    # The OpenAPI, AsyncAPI and GraphQL documents read the protos through the generated
    # modules, which this process imported before they were regenerated: export them from
    # fresh interpreters.
    exporters = (
        "hub.frontends.rest.export",
        "hub.frontends.websocket.asyncapi",
        "hub.frontends.graphql.export",
    )
    for exporter in exporters:
        exported = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", exporter, str(root)], check=False
        )
        if exported.returncode != 0:
            return EXIT_FAILED
    return EXIT_OK
