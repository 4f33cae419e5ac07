"""`python -m starter.cli`: the same entry point as the `aftersales` script."""

import sys

from starter.cli.main import main

sys.exit(main())
