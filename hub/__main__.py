"""`python -m hub ...` runs the `hub` command (the same as the console script)."""

import sys

from hub.cli import main

sys.exit(main())
