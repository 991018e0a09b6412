"""atheris/libFuzzer target `sequence`: packets and clock steps into one host.

Run as plain libFuzzer: `python fuzz/sequence.py -runs=1000 -dict=fuzz/dicts/sequence.dict`, or
through `stack-fuzz run sequence --time 60`. The target itself is `fuzz.targets.run_sequence`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("sequence", sys.argv)
