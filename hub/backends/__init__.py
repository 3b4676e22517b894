"""The user and mindmap services: grpc.aio servicers over a `hub.storage.Store`.

`users.UserService` and `mindmaps.MindmapService` are the servicers; each can be added to
any grpc.aio server with the generated `add_*Servicer_to_server` and answers with the right
status codes and `google.rpc` details on its own, because every RPC is wrapped by
`status.rpc`, the one place where domain errors become gRPC status. A server that hosts
them should also install `decoding.MalformedRequests`, so that request bytes that do not
parse are INVALID_ARGUMENT rather than grpc's own UNKNOWN.

Around them, plain modules hold the rules, each testable without sockets:
- `validation`: the field rules of the protos (`hub.rules`) and the checks they cannot
  express; all violations of a request in one `InvalidArgument`.
- `pagination`: page sizes and opaque page tokens.
- `tree`: the node tree of a mindmap (add, edit, move, delete; dense positions; pre-order).
- `writes`: etags and the read → apply → compare-and-swap loop of conditional writes.
- `reads`: one resource by id, batches in request order.
- `events`: the one domain event every committed write carries into the store's outbox.
"""
