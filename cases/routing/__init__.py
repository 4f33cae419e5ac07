"""Dispatch (STANDARDS S12.3): which team and agent take a case.

`models` holds the case's place in the roster and the roster's answers, `dispatch` the pure choice
of a seat and of the queue's order that every roster provider makes through, and `placement` the
case's side: what it asks the roster, and what each answer does to it.
"""
