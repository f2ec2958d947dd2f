"""What the tests share: the platform run as processes (harness), a PostgreSQL cluster and a
Redis server of their own, an HTTP stub, and processes that look like serve's (serve_fakes)."""
