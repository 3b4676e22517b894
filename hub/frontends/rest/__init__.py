"""The REST front end: HTTP/JSON routes transcoded from the `google.api.http` rules of the protos.

`routes.py` derives the routes from the service descriptors, `template.py` parses their path
templates, `transcode.py` turns HTTP input into RPC requests and responses into JSON,
`problems.py` maps failures to RFC 9457 problem bodies, `schema.py` and `openapi.py` publish
and enforce the JSON Schema of every request, and `app.py` serves it all as an ASGI app that
reaches the backends through the one `BackendClient` hop.
"""
