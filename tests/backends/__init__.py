"""Tests of hub/backends: pure rules without sockets, servicers over a real server."""
