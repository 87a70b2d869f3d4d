#!/usr/bin/env bash
#  test.sh - run every test of megle: installs what is missing, checks the
#  formatting, builds a gcc release build (warnings are errors) and runs its
#  unit tests, then builds with clang + AddressSanitizer + UBSan and runs the
#  whole ctest suite there: unit suites, fuzz-corpus replays, bounded fuzz
#  runs, integration tests against real redis-server/matcher/gateway
#  processes and WebSocket clients, and headless-Chromium browser tests.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scripts/install-deps.sh

echo "== clang-format"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

echo "== release build (gcc, -Werror) + unit tests"
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release -L unit

echo "== asan build (clang, ASan+UBSan, -Werror) + every test"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
