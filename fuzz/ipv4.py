"""atheris/libFuzzer target `ipv4`: one IPv4 packet into a fresh host.

Run as plain libFuzzer: `python fuzz/ipv4.py -runs=1000 -dict=fuzz/dicts/ipv4.dict`, or
through `stack-fuzz run ipv4 --time 60`. The target itself is `fuzz.targets.run_ipv4`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("ipv4", sys.argv)
