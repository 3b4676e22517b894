"""A real Prometheus server (the Debian package's `prometheus`) for the tests: it scrapes one
target every second and evaluates the hub's rule files, and answers PromQL queries over its
HTTP API (or runs a configuration of the test's own: `prometheus_with`).

The rule files are copied with every group's own `interval` removed, so that all of them
evaluate every second like the rest (the business group runs once a minute in production).
Prometheus applies a new scrape configuration at most every 5 seconds, so the first scrape
comes about 5 seconds after start.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.deploy.artefacts import RULE_FILES, load_yaml

START_SECONDS = 10.0
STOP_SECONDS = 10.0
JOB = "hub"


class QueryError(Exception):
    """Prometheus refused or failed a query."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant query's answer."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus's query API."""

    http: httpx.AsyncClient

    async def query(self, expr: str) -> list[Sample]:
        """The instant vector `expr` evaluates to now; QueryError if Prometheus refuses it."""
        answer: dict[str, Any] = (
            await self.http.get("/api/v1/query", params={"query": expr})
        ).json()
        if answer["status"] != "success":
            raise QueryError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
        if answer["data"]["resultType"] != "vector":
            raise QueryError(f"{expr}: a {answer['data']['resultType']}, not an instant vector")
        return [
            Sample(labels=series["metric"], value=float(series["value"][1]))
            for series in answer["data"]["result"]
        ]

    async def targets(self) -> dict[str, Any]:
        """The scrape targets: `activeTargets` (with their labels after relabelling) and
        `droppedTargets` (with the labels they were discovered with)."""
        answer: dict[str, Any] = (
            await self.http.get("/api/v1/targets", params={"state": "any"})
        ).json()
        if answer["status"] != "success":
            raise QueryError(f"targets: {answer.get('errorType')}: {answer.get('error')}")
        data: dict[str, Any] = answer["data"]
        return data


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_config(folder: Path, target: str) -> Path:
    """prometheus.yml in a new `folder`: scrape `target` as job `hub`, evaluate the rule
    files (copies without group intervals)."""
    folder.mkdir(parents=True)
    rule_files = []
    for path in RULE_FILES:
        document = load_yaml(path)
        for group in document["groups"]:
            group.pop("interval", None)
        copy = folder / path.name
        copy.write_text(yaml.safe_dump(document), encoding="utf-8")
        rule_files.append(str(copy))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rule_files,
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
    }
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@asynccontextmanager
async def running_prometheus(binary: str, folder: Path, target: str) -> AsyncIterator[Prometheus]:
    """Starts Prometheus on a free loopback port with its data in `folder`, scraping
    `target` (host:port), and stops it on exit. Its log is `folder/prometheus.log`."""
    async with prometheus_with(binary, folder, _write_config(folder, target)) as prometheus:
        yield prometheus


@asynccontextmanager
async def prometheus_with(binary: str, folder: Path, config: Path) -> AsyncIterator[Prometheus]:
    """Starts Prometheus with the configuration file `config` on a free loopback port, its
    data and log (`prometheus.log`) in `folder`, and stops it on exit."""
    address = f"127.0.0.1:{free_port()}"
    with (folder / "prometheus.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={address}",
            "--log.level=warn",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://{address}") as http:
                await _wait_until_ready(http, process, folder)
                yield Prometheus(http)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(STOP_SECONDS):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_until_ready(
    http: httpx.AsyncClient, process: asyncio.subprocess.Process, folder: Path
) -> None:
    """Returns once Prometheus answers /-/ready; RuntimeError, with its log, if it exits or
    takes longer than START_SECONDS."""
    try:
        async with asyncio.timeout(START_SECONDS):
            while process.returncode is None:
                try:
                    if (await http.get("/-/ready")).status_code == httpx.codes.OK:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)
    except TimeoutError:
        pass
    log = (folder / "prometheus.log").read_text(encoding="utf-8", errors="replace")
    raise RuntimeError(f"prometheus is not ready (exit code {process.returncode}): {log}")
