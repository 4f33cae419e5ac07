"""The life of a case on the time-skipping server, by path: happy paths, clocks, review and what
follows, continuation and refusals."""
