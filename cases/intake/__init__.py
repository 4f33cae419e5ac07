"""Intake: reading the tier, category and flags of a new case from what the customer wrote."""
