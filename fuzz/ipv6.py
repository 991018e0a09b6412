"""atheris/libFuzzer target `ipv6`: one IPv6 packet into a fresh host.

Run as plain libFuzzer: `python fuzz/ipv6.py -runs=1000 -dict=fuzz/dicts/ipv6.dict`, or
through `stack-fuzz run ipv6 --time 60`. The target itself is `fuzz.targets.run_ipv6`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("ipv6", sys.argv)
