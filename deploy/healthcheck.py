#!/usr/bin/env python3
"""Exit 0 when EyeTagger answers 200 on /api/health/ (the database answers too), 1 otherwise.

The Docker image's HEALTHCHECK runs it inside the container, without curl. It sends the first
of ALLOWED_HOSTS as the Host header, since Django refuses any other.
"""

import http.client
import os
import sys


def main() -> int:
    port = int(os.environ.get("HEALTHCHECK_PORT", "8000"))
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/health/", headers={"Host": host})
        response = connection.getresponse()
        body = response.read(500).decode("utf-8", "replace")
    except OSError as error:  # refused, reset, timed out: the server is not up
        print(f"unhealthy: {error}")
        return 1
    if response.status != 200:
        print(f"unhealthy: HTTP {response.status} {body}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
