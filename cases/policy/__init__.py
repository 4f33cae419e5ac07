"""The policy a case runs on: the file operators edit and the snapshot a case keeps (`snapshot`),
its approval and intake sections, and amendments of the rules of running cases (`amendment`)."""
