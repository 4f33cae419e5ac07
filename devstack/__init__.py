"""The local stack behind `aftersales up` and the dev-server tests, as child processes.

`processes` holds the process-control helpers every child shares (ports, own process groups,
deferred signals, stopping, log tails); `temporal_server` runs `temporal server start-dev` with
the case search attributes registered; `postgres` runs the embedded PostgreSQL and decides between
it and a server named by DATABASE_URL; `supervisor` is `aftersales up`, which starts them all in
order, watches them, and stops them in reverse order.
"""
