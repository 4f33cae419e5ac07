"""The outbox dispatcher: delivers the queued `notifications` rows through a notification
provider, once per key and in order within a case, from whichever replica holds the lead."""
