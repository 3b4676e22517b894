"""Every metric the rules and dashboards of deploy/ read exists: in the fixed catalogue, and
in the live `/metrics` of a whole hub after a short workload through every front end (REST
with a 404 and a 400, gRPC, a WebSocket subscription receiving events, signups, a plan
upgrade and mindmap writes for the business metrics)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from hub.testing import running_hub
from tests.deploy import catalogue
from tests.deploy.artefacts import used_families
from tests.deploy.workload import workload

SCRAPE_SECONDS = 10.0
# `# TYPE <family> <type>`, and a sample line's name (up to its labels or its value).
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_SAMPLE_NAME = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]", re.MULTILINE)


def test_the_rules_and_dashboards_use_only_catalogue_metrics() -> None:
    used = used_families(catalogue.HISTOGRAMS)
    assert {} == {
        family: places for family, places in used.items() if family not in catalogue.FAMILIES
    }
    # 36 of the catalogue's families are shown or alerted on: all but the gRPC client's
    # started_total and both sides' per-message counters.
    assert {
        "grpc_client_started_total",
        "grpc_client_msg_received_total",
        "grpc_client_msg_sent_total",
        "grpc_server_msg_received_total",
        "grpc_server_msg_sent_total",
    } == catalogue.FAMILIES - used.keys()


def sampled_families(exposition: str) -> tuple[set[str], set[str]]:
    """The families of a classic-format exposition that have at least one sample, and the
    histograms among all its families."""
    types = dict(_TYPE_LINE.findall(exposition))
    samples = set(_SAMPLE_NAME.findall(exposition))
    histograms = {family for family, kind in types.items() if kind == "histogram"}
    sampled = {
        family
        for family in types
        if family in samples or (family in histograms and f"{family}_bucket" in samples)
    }
    return sampled, histograms


def test_sampled_families_read_the_classic_text_format() -> None:
    exposition = (
        "# HELP a_total A counter.\n# TYPE a_total counter\n"
        'a_total{x="1"} 2.0\n# HELP a_created A counter.\n# TYPE a_created gauge\n'
        'a_created{x="1"} 1.7e9\n# HELP b_seconds A histogram.\n# TYPE b_seconds histogram\n'
        'b_seconds_bucket{le="+Inf"} 1.0\nb_seconds_count 1.0\nb_seconds_sum 0.1\n'
        "# HELP c A gauge without children.\n# TYPE c gauge\n# HELP d A gauge.\n"
        "# TYPE d gauge\nd 0.0\n"
    )
    assert ({"a_total", "a_created", "b_seconds", "d"}, {"b_seconds"}) == sampled_families(
        exposition
    )


async def test_every_metric_of_the_rules_and_dashboards_is_in_the_live_metrics(
    tmp_path: Path,
) -> None:
    """After the workload, `/metrics` has at least one sample of every family the rules and
    dashboards read (recording rules resolved to their inputs). Business metrics follow the
    events asynchronously, so the page is read again until complete, for SCRAPE_SECONDS."""
    async with (
        running_hub(tmp_path) as running,
        httpx.AsyncClient(base_url=running.http_url) as http,
    ):
        await workload(running, http)
        missing: dict[str, set[str]] = {}
        async with asyncio.timeout(SCRAPE_SECONDS):
            while True:
                scrape = await http.get("/metrics")
                assert 200 == scrape.status_code, f"GET /metrics answered {scrape.status_code}"
                assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
                sampled, histograms = sampled_families(scrape.text)
                used = used_families(histograms)
                missing = {name: used[name] for name in used.keys() - sampled}
                if not missing:
                    break
                await asyncio.sleep(0.1)
        assert {} == missing
