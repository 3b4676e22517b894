"""Gateway policies, written once for every front end: each is protocol-agnostic state and
rules (the circuit breaker, ...); the composition root applies them to every backend call of
`hub.client.BackendClient` through one gRPC client interceptor, so that a call made for a
REST, GraphQL, gRPC or WebSocket client meets the same decisions."""
