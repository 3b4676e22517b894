"""The front ends: each translates one protocol to calls on `hub.client.BackendClient`.

`grpc.py` is the public gRPC server, which forwards every backend method as it is. Front
ends never import `hub.storage` or `hub.backends`: they reach data only through the backend
client, like any outside service would.
"""
