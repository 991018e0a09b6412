"""``python -m bench``: see bench.cli."""

import os
import sys

from bench.cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # The reader went away (``| head``): not an error worth a traceback. Point stdout at
    # /dev/null so the interpreter's final flush does not raise again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
raise SystemExit(code)
