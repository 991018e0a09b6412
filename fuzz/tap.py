"""atheris/libFuzzer target `tap`: an Ethernet frame into the TAP-mode host.

Run as plain libFuzzer: `python fuzz/tap.py -runs=1000 -dict=fuzz/dicts/tap.dict`, or
through `stack-fuzz run tap --time 60`. The target itself is `fuzz.targets.run_tap`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("tap", sys.argv)
