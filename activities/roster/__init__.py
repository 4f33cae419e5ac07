"""The roster: teams, agents and the case each seat holds (STANDARDS S12.3).

`activity` holds the routing activities (`place`, `take`, `release`) as thin methods over a
`RosterProvider`, and the provider that routes nothing; `postgres` is the race-free provider over
PostgreSQL that every worker shares, with its SQL in `queries`.
"""
