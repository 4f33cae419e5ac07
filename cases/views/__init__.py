"""What the outside sees of a case: the customer's progress page, the fields a webhook may carry,
the events counted as metrics, and the customer's contact details as a merchant's staff see them.
Read-only views over the state and its audit events."""
