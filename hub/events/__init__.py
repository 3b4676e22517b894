"""Committed domain events on their way to subscribers.

`bus.py` is the `EventBus` interface (publish in id order, subscribe with a filter and a resume
point, retention, backpressure); `memory.py` the in-process implementation of the embedded
default; `redis.py` the one shared by the processes of a scaled-out hub (a Redis stream, with
a `memory.py` replica per process for its subscribers); `relay.py` moves committed outbox
rows onto the bus. Nothing here imports a front end, a backend or the app: front ends
subscribe through the interface the composition root hands them.
"""
