"""The chaos suite (issue #36): the engine under the faults and the load a deployment meets, for
real and bounded in time. Each test that stops a server starts its own (tests/own_servers.py:
``initdb`` and ``pg_ctl`` into a temporary folder, ``redis-server --port …``), never the
machine's shared ones.

- test_cap_recount.py: Redis restarted empty, between decisions and under concurrent traffic:
  caps never exceeded;
- test_outages.py: PostgreSQL and Redis stopped and started under traffic: 503s with
  Retry-After, then recovery by itself, and no order half-written;
- test_connection_pool.py: bursts of concurrent requests right after a start and during
  configuration changes: no 5xx, none over 3 s;
- test_overload.py: 500 connections on two workers: fast refusals, no timeouts;
- test_login_throttle_redis.py, test_login_flood.py: a flood of bad logins throttled across
  workers without locking the owner out or stalling other requests.

Run it alone with ``CI=true .venv/bin/pytest -q tests/chaos``; its figures are in
docs/operations.md ("The chaos suite").
"""
