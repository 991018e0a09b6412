"""``python -m stack`` runs ``stack-live`` (see stack/live/cli.py)."""

import sys

from stack.live.cli import main

sys.exit(main())
