"""Reading `/metrics` in tests: scrape a running hub, parse the text format, look samples up.

`Scrape` holds one scrape, parsed by prometheus_client's own parser; `value(name, **labels)`
is the value of the sample with exactly that name and label set (None if absent), and
`expect` compares many at once, so a front end's test lists its expected samples as one
mapping (`{("http_requests_total", (("method", "GET"), ...)): 1.0}`). GraphQL's samples
(endpoint `graphql:<operationName>`) are checked the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hub.testing import RunningHub

WAIT_SECONDS = 10.0

Labels = tuple[tuple[str, str], ...]


def labels(**values: str) -> Labels:
    """A label set as a sorted tuple (the key form `Scrape` uses)."""
    return tuple(sorted(values.items()))


@dataclass(frozen=True)
class Scrape:
    """One `/metrics` answer: its text, its samples, and each family's type."""

    text: str
    samples: Mapping[tuple[str, Labels], float]
    types: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        """Parses the classic text format."""
        samples: dict[tuple[str, Labels], float] = {}
        types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for sample in family.samples:
                samples[(sample.name, labels(**sample.labels))] = sample.value
        return cls(text, samples, types)

    def value(self, name: str, **label_values: str) -> float | None:
        """The sample `name` with exactly `label_values`, None if there is none."""
        return self.samples.get((name, labels(**label_values)))

    def values(self, name: str) -> dict[Labels, float]:
        """Every sample named `name`, by label set."""
        return {key[1]: value for key, value in self.samples.items() if key[0] == name}

    def expect(
        self, expected: Mapping[tuple[str, Labels], float]
    ) -> dict[tuple[str, Labels], float | None]:
        """The actual values of the `expected` samples (compare the two mappings)."""
        return {key: self.samples.get(key) for key in expected}


async def scrape(running: RunningHub) -> Scrape:
    """GETs the hub's metrics page and parses it (status 200 and content type checked)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(running.metrics_url)
    if response.status_code != 200:
        raise AssertionError(f"/metrics answered {response.status_code}: {response.text}")
    content_type = response.headers["content-type"]
    if content_type != "text/plain; version=0.0.4; charset=utf-8":
        raise AssertionError(f"unexpected content type {content_type}")
    return Scrape.parse(response.text)


async def scrape_until(running: RunningHub, done: Callable[[Scrape], bool]) -> Scrape:
    """Scrapes until `done` holds (events and closes are counted after the call returns);
    TimeoutError after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        current = await scrape(running)
        if done(current):
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"metrics never reached the expected state:\n{current.text}")
        await asyncio.sleep(0.02)
