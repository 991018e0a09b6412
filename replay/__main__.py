"""``python -m replay``: the same as the ``replay`` command."""

import sys

from replay.cli import main

sys.exit(main())
