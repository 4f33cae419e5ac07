"""The two kinds of failure every command reports as one line: the user's, and a service's."""


class UserError(Exception):
    """Bad input or a bad setting: one line on stderr, exit status 2."""


class ServiceError(Exception):
    """A service (Temporal, PostgreSQL) failed or is unreachable: one line, exit status 1."""
