"""A local port for the tests: free_port() is one the system just gave out and nothing listens
on (a Redis or an AIS that is away, a server a test starts itself). The S3 test server keeps its
own fixed range (cpe/core/tests/s3.py): the shared machine's firewall opens only those."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
