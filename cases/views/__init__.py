"""What the outside sees of a case: the customer's progress page, the fields a webhook may carry,
and the events counted as metrics. Read-only views over the state and its audit events."""
