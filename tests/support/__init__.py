"""What the tests share: builders of inputs, helper processes (fault-injected and crashing workers,
a notification partner, a webhook receiver), waits on conditions, the live API, the outbox and
routing set-ups, and the recorder of the golden histories (`make histories`)."""
