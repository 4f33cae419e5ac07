"""The HTTP API: `aftersales api`."""
