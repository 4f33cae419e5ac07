"""Entry point: `python -m bench [--quick] [--only e2e,latency,...]`."""

from bench.run import main

raise SystemExit(main())
