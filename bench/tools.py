"""The programs outside Python that the benchmarks drive, and how to get them.

Load comes from outside the hub's process, from programs cheap enough not to starve the
server of CPU on a 2-core machine: `wrk` for HTTP, `h2load` for gRPC; the peer-proxy
baseline is `nginx`. All three are Debian packages. A scenario asks for a program with
`path(tool)`, which raises `MissingTool` naming the package to install; `python -m bench`
checks every program its scenarios need before it starts anything (`missing`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    """A program on PATH and the Debian package that ships it."""

    program: str
    package: str
    use: str


WRK = Tool("wrk", "wrk", "HTTP load")
H2LOAD = Tool("h2load", "nghttp2-client", "gRPC load")
NGINX = Tool("nginx", "nginx-light", "the peer proxy (grpc_pass)")
VALGRIND = Tool("valgrind", "valgrind", "instruction counts (bench.instructions)")
CALLGRIND_CONTROL = Tool("callgrind_control", "valgrind", "instruction counts (bench.instructions)")


class MissingTool(RuntimeError):
    """A program a benchmark needs is not installed."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools = tuple(dict.fromkeys(tools))
        named = ", ".join(f"{tool.program} ({tool.use})" for tool in self.tools)
        super().__init__(f"not installed: {named}; install with: {install_command(self.tools)}")


def install_command(tools: Iterable[Tool]) -> str:
    """The command that installs `tools`."""
    packages = " ".join(dict.fromkeys(tool.package for tool in tools))
    return f"apt-get install -y {packages}"


def missing(tools: Iterable[Tool]) -> list[Tool]:
    """Those of `tools` not on PATH, each once."""
    return [tool for tool in dict.fromkeys(tools) if shutil.which(tool.program) is None]


def path(tool: Tool) -> str:
    """Where `tool` is; `MissingTool` if it is not installed."""
    found = shutil.which(tool.program)
    if found is None:
        raise MissingTool([tool])
    return found
