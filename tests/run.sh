#!/usr/bin/env bash
# The test command: the whole suite (tests and docstring examples) under each Keras backend.
# Tests marked slow run once, on the torch backend (the quickest to build large models).
set -uo pipefail
cd "$(dirname "$0")/.."
# JAX keeps what XLA compiles in a directory for this run: tests and their child processes
# compile the same tiny models again and again (the JAX pass: 17.3 minutes with it, 19.5 without).
jax_cache="$(mktemp -d)"
trap 'rm -rf "$jax_cache"' EXIT
export JAX_COMPILATION_CACHE_DIR="$jax_cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
failed=()
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend ==="
  if [ "$backend" = torch ]; then select=(); else select=(-m "not slow"); fi
  KERAS_BACKEND=$backend python -m pytest -p no:cacheprovider --doctest-modules "${select[@]}" \
    electra_keras electra_keras_cli tests || failed+=("$backend")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
echo "all backends passed"
