"""``python -m fuzz`` is ``stack-fuzz``."""

import sys

from fuzz.cli import main

sys.exit(main())
