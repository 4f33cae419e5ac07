"""`aftersales whatif`: past cases replayed under a candidate policy, beside what happened.

`query` reads each case's final state, audit trail and roster answers from PostgreSQL; `timeline`
turns a trail into the inputs the case was given; `replay` feeds them to the pure `CaseMachine`
under the candidate policy; `compare` sets the result beside the record; `run` and `parallel`
drive that over a period (split by case id over the free cores); `figures` counts both sides;
`render`, `format` and `html` print them; `command` is the sub-command and `errors` its one-line
database failures.
"""
