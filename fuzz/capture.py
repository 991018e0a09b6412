"""atheris/libFuzzer target `capture`: bytes as a pcap/pcapng file into the reader.

Run as plain libFuzzer: `python fuzz/capture.py -runs=1000 -dict=fuzz/dicts/capture.dict`, or
through `stack-fuzz run capture --time 60`. The target itself is `fuzz.targets.run_capture`.
"""

import sys

from fuzz.runner import fuzz_main

if __name__ == "__main__":
    fuzz_main("capture", sys.argv)
