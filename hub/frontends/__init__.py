"""The front ends: each translates one protocol to calls on `hub.client.BackendClient`.

`grpc.py` is the public gRPC server, which forwards every backend method as it is; `rest/`
is the REST front end (routes transcoded from the protos' `google.api.http` rules, OpenAPI);
`http.py` runs the HTTP server the HTTP front ends share; `rpc_error.py` decodes a failed
call's details once for all of them. Front ends never import `hub.storage` or
`hub.backends`: they reach data only through the backend client, like any outside service
would.
"""
