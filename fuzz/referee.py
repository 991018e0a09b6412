"""atheris/libFuzzer target `referee`: a reply into the referee's validate/diff.

Run as plain libFuzzer: `python fuzz/referee.py -runs=1000 -dict=fuzz/dicts/referee.dict`, or
through `stack-fuzz run referee --time 60`. The target itself is `fuzz.targets.run_referee`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("referee", sys.argv)
