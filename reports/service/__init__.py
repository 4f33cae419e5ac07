"""The service report (STANDARDS S9): `aftersales report`.

Data flows one way. `query` reads the PostgreSQL projection (`cases`, `sla_clocks`, the merchant
ledger and settlement holds) with the statements of `report.sql`, never Temporal, and `figures`
turns the rows into the pydantic `Report`: raw counts, with every rate derived from them
(STANDARDS S9.1, S9.2), the merchants' duties to the buyer of `duties` and the platform's
interventions of `interventions`. The renderers then only read that model: `render` (aligned text
tables, and JSON) and `html` (a self-contained page with the matplotlib charts of `charts`),
sharing the cell formats of `formatting`, the worst-merchants table of `merchants`, the
merchant-duties table of `duty_table` and the interventions table of `intervention_table`.
`command` is the `aftersales report` sub-command that wires them together.
"""
