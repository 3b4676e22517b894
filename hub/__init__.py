"""hub: one service that puts gRPC, REST, GraphQL and WebSocket front ends in front of a
user service and a mindmap service. See docs/architecture.md for the map of the package."""
