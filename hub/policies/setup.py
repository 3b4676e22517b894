"""Builds the gateway policies from the `api_gateway` settings, checked against the protos.

`build_policies` is what the composition root calls: it resolves every RPC pattern of the
policy blocks (`<package.Service>/<Method>` or `<package.Service>/*`) to wire paths, whether
or not the policy is on, so that a misnamed RPC is an error at start-up (`ConfigError`
naming the key), and builds the `PolicyInterceptor` with the policies that are on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.client import SERVICE_DESCRIPTORS, is_read, method_path
from hub.config import ApiGateway, Caching, ConfigError, RateLimiting
from hub.policies.auth import Authenticator, hs256_secret
from hub.policies.breaker import BreakerSettings, CircuitBreaker
from hub.policies.cache import Cache, MemoryCache
from hub.policies.cache_redis import RedisCache
from hub.policies.caching import CachingPolicy
from hub.policies.interceptor import PolicyInterceptor
from hub.policies.ratelimit import Limit, MemoryRateLimitStore, RateLimiter, RateLimitStore
from hub.policies.ratelimit_redis import RedisRateLimitStore
from hub.redisconn import RedisClients


@dataclass(frozen=True)
class Policies:
    """The policies in force, built from the settings."""

    interceptor: PolicyInterceptor
    """Applies them to every backend call (`BackendClient(interceptors=...)`)."""
    authenticator: Authenticator | None
    """Who is calling, for front ends that need to know before any call (None when off)."""
    anonymous: frozenset[str]
    """The wire paths of the RPCs open without credentials (with authentication on)."""
    breakers: dict[str, CircuitBreaker]
    """The circuit breaker of each backend's gRPC service (none when off)."""
    caching: CachingPolicy | None
    """The response cache (None when off); `follow(bus)` keeps it current."""
    cache_control: dict[str, str]
    """The `Cache-Control` of REST reads, by wire path (empty when caching is off)."""
    store_failures: dict[str, Callable[[], int]]
    """By policy (`rate_limiting`, `caching`) whose state is in Redis: how many of its
    operations on Redis have failed, each one answered as if Redis were not there (the call
    admitted, the cache bypassed). Empty without Redis."""


def build_policies(
    gateway: ApiGateway, data_dir: Path, redis: RedisClients | None = None
) -> Policies:
    """The policies `gateway` turns on. Raises `ConfigError` for an RPC pattern that names
    no RPC (or a cache rule that names a write). Makes the HS256 key in `data_dir` when
    authentication is on and no key is configured. With `redis`, the rate-limit buckets and
    the response cache live there, shared by every gateway; else in this process."""
    anonymous = anonymous_paths(gateway.authentication.anonymous)
    limits = rate_limits(gateway.rate_limiting)
    cached = cache_settings(gateway.caching)
    on = set(gateway.policies)
    authenticator = None
    if "authentication" in on:
        settings = gateway.authentication
        secret = hs256_secret(settings, data_dir) if "HS256" in settings.algorithms else None
        authenticator = Authenticator(settings, secret=secret)
    limiter = None
    store_failures: dict[str, Callable[[], int]] = {}
    if "rate_limiting" in on:
        store: RateLimitStore
        if redis is None:
            store = MemoryRateLimitStore(max_keys=gateway.rate_limiting.max_keys)
        else:
            store = shared_store = RedisRateLimitStore(redis.policies, redis.prefix)
            store_failures["rate_limiting"] = lambda: shared_store.failures
        limiter = RateLimiter(store, limits)
    caching = None
    if "caching" in on:
        max_bytes = gateway.caching.max_bytes
        cache: Cache
        if redis is None:
            cache = MemoryCache(max_bytes=max_bytes)
        else:
            cache = shared_cache = RedisCache(redis.policies, redis.prefix, max_bytes=max_bytes)
            store_failures["caching"] = lambda: shared_cache.failures
        caching = CachingPolicy(cache, cached.ttls)
    breaking = gateway.circuit_breaking
    breakers = (
        {
            descriptor.full_name: CircuitBreaker(name, BreakerSettings(**breaking.model_dump()))
            for name, descriptor in SERVICE_DESCRIPTORS.items()
        }
        if "circuit_breaking" in on
        else {}
    )
    interceptor = PolicyInterceptor(
        authenticator=authenticator,
        anonymous=anonymous,
        rate_limiter=limiter,
        caching=caching,
        breakers=breakers,
    )
    return Policies(
        interceptor=interceptor,
        authenticator=authenticator,
        anonymous=anonymous,
        breakers=breakers,
        caching=caching,
        cache_control=cached.cache_control if caching is not None else {},
        store_failures=store_failures,
    )


def rpc_paths(pattern: str, key: str, problems: list[str]) -> list[str]:
    """The wire paths of the backend RPCs `pattern` (`<package.Service>/<Method>` or
    `<package.Service>/*`) names; adds a problem naming `key` when it names none."""
    services = {descriptor.full_name: descriptor for descriptor in SERVICE_DESCRIPTORS.values()}
    service_name, _, method_name = pattern.partition("/")
    descriptor = services.get(service_name)
    names = [] if descriptor is None else [method.name for method in descriptor.methods]
    chosen = names if method_name == "*" else [name for name in names if name == method_name]
    if not chosen:
        problems.append(f"{key}: no RPC {pattern!r} (services: {', '.join(sorted(services))})")
    return [f"/{service_name}/{name}" for name in chosen]


def anonymous_paths(patterns: list[str]) -> frozenset[str]:
    """The wire paths of the RPCs `authentication.anonymous` opens. Raises `ConfigError`
    naming each entry that matches no RPC of a backend."""
    problems: list[str] = []
    paths = {
        path
        for index, pattern in enumerate(patterns)
        for path in rpc_paths(pattern, f"api_gateway.authentication.anonymous[{index}]", problems)
    }
    raise_if_any(problems)
    return frozenset(paths)


def rate_limits(settings: RateLimiting) -> dict[str, Limit]:
    """The bucket of every backend RPC: the first rule naming it, else the default. Raises
    `ConfigError` naming each rule that matches no RPC."""
    problems: list[str] = []
    limits: dict[str, Limit] = {}
    for index, rule in enumerate(settings.rules):
        key = f"api_gateway.rate_limiting.rules[{index}].rpc"
        for path in rpc_paths(rule.rpc, key, problems):
            limits.setdefault(path, Limit(rule.rate_per_second, rule.burst))
    raise_if_any(problems)
    default = Limit(settings.default.rate_per_second, settings.default.burst)
    for descriptor in SERVICE_DESCRIPTORS.values():
        for method in descriptor.methods:
            limits.setdefault(method_path(descriptor, method.name), default)
    return limits


@dataclass(frozen=True)
class CacheSettings:
    """How each read is cached: TTL and the `Cache-Control` of its REST route, by path."""

    ttls: dict[str, float]
    cache_control: dict[str, str]


def cache_settings(settings: Caching) -> CacheSettings:
    """How every read RPC is cached: the first rule naming it, else the defaults. Raises
    `ConfigError` naming each rule that matches no RPC, or a write."""
    problems: list[str] = []
    ttls: dict[str, float] = {}
    controls: dict[str, str] = {}
    reads = {
        method_path(descriptor, method.name)
        for descriptor in SERVICE_DESCRIPTORS.values()
        for method in descriptor.methods
        if is_read(method)
    }
    for index, rule in enumerate(settings.rules):
        key = f"api_gateway.caching.rules[{index}].rpc"
        for path in rpc_paths(rule.rpc, key, problems):
            if path not in reads:
                if not rule.rpc.endswith("/*"):
                    problems.append(f"{key}: {rule.rpc!r} is not a read; only reads are cached")
                continue
            ttls.setdefault(
                path, settings.ttl_seconds if rule.ttl_seconds is None else rule.ttl_seconds
            )
            controls.setdefault(path, rule.cache_control or settings.cache_control)
    raise_if_any(problems)
    for path in reads:
        ttls.setdefault(path, settings.ttl_seconds)
        controls.setdefault(path, settings.cache_control)
    return CacheSettings(ttls, controls)


def raise_if_any(problems: list[str]) -> None:
    """Raises one `ConfigError` listing `problems`, if there are any."""
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
