"""The WebSocket front end: `/ws`, live and resumable event subscriptions (issue 5).

`messages.py` is the protocol (the JSON Schema of every message, reading and writing them),
`endpoint.py` the ASGI endpoint on the event bus, `asyncapi.py` the AsyncAPI 3.0 document
that describes both, committed as `asyncapi/hub.yaml`.
"""
