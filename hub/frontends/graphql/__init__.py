"""The GraphQL front end: one client-facing schema over the user and mindmap backends.

strawberry (code-first) serves it at `/graphql` of the HTTP server: queries and mutations over
HTTP, subscriptions over WebSocket (graphql-transport-ws), GraphiQL. Resolvers reach data only
through `hub.client.BackendClient`, batched per query level by DataLoaders; failures become
GraphQL errors with `extensions.code` in one place (`errors.py`); document limits run before
any resolver (`limits.py`, `documents.py`). `graphql/schema.graphql` at the top of the
checkout is the exported SDL (`export.py`). See docs/graphql.md.
"""
