#!/bin/bash -eu
# Builds one fuzzer per target of fuzz/ into $OUT, each with its dictionary
# ($OUT/<target>.dict), its libFuzzer options ($OUT/<target>.options: max_len and the
# dictionary, as stack-fuzz run passes them) and its seed corpus
# ($OUT/<target>_seed_corpus.zip: the built-in seeds plus every packet of corpus/). Runs inside the base-builder-python image, where
# compile_python_fuzzer, atheris and pyinstaller are provided; .clusterfuzzlite/local_build.sh
# runs these same steps on a developer machine without the container.
cd "$SRC/tunstack"
# The Python sources, not the mypyc-compiled core: atheris instruments bytecode only.
TUNSTACK_PURE_PYTHON=1 pip3 install .

targets=$(python3 -c 'from fuzz.targets import TARGETS; print(" ".join(TARGETS))')
for target in $targets; do
  # The targets import stack's modules by name at run time (to instrument them), which
  # pyinstaller cannot see: collect the packages whole.
  compile_python_fuzzer "fuzz/$target.py" \
    --collect-submodules stack --collect-submodules fuzz --collect-submodules dpkt
  cp "fuzz/dicts/$target.dict" "$OUT/$target.dict"
  python3 -m fuzz seeds "$target" --corpus corpus --zip "$OUT/${target}_seed_corpus.zip" \
    --options "$OUT/$target.options"
done
