"""Observability: metrics, tracing, logs, and the interceptors that record them.

One implementation of each: a gRPC server interceptor (every grpc server the hub runs) in
grpc.py, the client side (a wrapper of `BackendClient`'s channels) in grpc_client.py, one
ASGI middleware around the HTTP server in asgi.py; stack.py builds them all for a hub.
The metric objects live in a registry built per `Hub` (metrics.py), never in
prometheus_client's global default one; collectors read process, host, event-bus and
WebSocket figures at scrape time (system.py, events.py); business metrics follow the domain
events on the bus (business.py). Tracing (tracing.py) and logging (logging.py) are set up
from `Settings.observability`. Nothing here knows a particular front end, backend or store:
the composition root (hub/app.py) wires them.
"""
