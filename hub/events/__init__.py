"""Committed domain events on their way to subscribers.

`bus.py` is the `EventBus` interface (publish in id order, subscribe with a filter and a resume
point, retention, backpressure); `memory.py` the in-process implementation of the embedded
default; `relay.py` moves committed outbox rows onto the bus. Nothing here imports a front end,
a backend or the app: front ends subscribe through the interface the composition root hands them.
"""
