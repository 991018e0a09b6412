#!/bin/bash -eu
# Run .clusterfuzzlite/build.sh on this machine, without the container, and smoke-test
# every fuzzer it builds. Usage: .clusterfuzzlite/local_build.sh [OUT_DIR]
#
# What the base-builder-python image provides is provided here instead:
#   - a throwaway virtualenv (python3.11) with atheris and pyinstaller, first on PATH
#     as python3/pip3;
#   - $SRC holding a copy of the project as "tunstack", $OUT, $WORK;
#   - compile_python_fuzzer: pyinstaller --onefile into $OUT/<name>.pkg plus the
#     $OUT/<name> wrapper that ClusterFuzzLite executes (no sanitizer preload: the
#     project is pure Python).
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d /tmp/tunstack-cflite-out.XXXXXX)}
scratch=$(mktemp -d /tmp/tunstack-cflite.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
python=${PYTHON:-python3.11}

"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet "atheris>=2.3,<4" "pyinstaller>=6,<7"
mkdir -p "$scratch/src/tunstack" "$scratch/work" "$out"
# A copy, as the Dockerfile's COPY makes one: pip's build must not write into the checkout.
# Compiled modules (*.so) stay behind: the fuzzers run the sources (stack/corebuild.py).
tar -C "$here" --exclude=.git --exclude=fuzz/work --exclude=build --exclude='*.egg-info' \
  --exclude='*.so' --exclude=.venv \
  -cf - . | tar -C "$scratch/src/tunstack" -xf -

compile_python_fuzzer() {
  local fuzzer=$1
  shift
  local name
  name=$(basename -s .py "$fuzzer")
  pyinstaller --distpath "$OUT" --workpath "$WORK/pyinstaller" --specpath "$WORK" \
    --onefile --name "$name.pkg" "$@" "$fuzzer" >"$WORK/$name.pyinstaller.log" 2>&1
  printf '#!/bin/sh\n# LLVMFuzzerTestOneInput for fuzzer detection.\nthis_dir=$(dirname "$0")\n"$this_dir/%s.pkg" "$@"\n' \
    "$name" >"$OUT/$name"
  chmod +x "$OUT/$name"
}
export -f compile_python_fuzzer

PATH="$scratch/venv/bin:$PATH" SRC="$scratch/src" OUT="$out" WORK="$scratch/work" \
  bash -eu "$here/.clusterfuzzlite/build.sh"

echo "built into $out:"
ls -1 "$out"
# Smoke test: each packaged fuzzer runs its seed corpus and then 500 mutated inputs
# (-runs counts both, so it is the seed count plus 500), with its options. A finding
# also shows the fuzzer works (it is reported, with the file to reproduce it from);
# a fuzzer that does not run at all fails the build.
status=0
for wrapper in "$out"/*; do
  [ -f "$wrapper.pkg" ] || continue
  name=$(basename "$wrapper")
  corpus="$scratch/run-$name"
  mkdir -p "$corpus"
  (cd "$corpus" && unzip -q "$out/${name}_seed_corpus.zip")
  log="$scratch/$name.log"
  mkdir -p "$out/artifacts"
  seeds=$(find "$corpus" -type f | wc -l)
  max_len=$(sed -n 's/^max_len = //p' "$out/$name.options")
  "$wrapper" -runs=$((seeds + 500)) -max_len="$max_len" -dict="$out/$name.dict" \
    -artifact_prefix="$out/artifacts/" "$corpus" >"$log" 2>&1 || true
  if grep -q '^Done [0-9]* runs' "$log"; then
    echo "$name: $seeds seeds, $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log")"
  elif grep -q 'Test unit written to' "$log"; then
    echo "$name: FINDING: $(grep -m1 -o 'oracle: .*' "$log" || echo 'see the log')"
    echo "  reproduce: stack-fuzz reproduce $(grep -o "$out/artifacts/crash-[0-9a-f]*" "$log" \
      | head -1) -t $name"
  else
    tail -20 "$log"
    echo "$name: did not run"
    status=1
  fi
done
exit $status
