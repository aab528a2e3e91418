#!/usr/bin/env bash
# docs/flags.md is what trident-train --print-flag-reference prints now.
# Usage: flag_reference.sh <trident-train> <docs/flags.md>
set -uo pipefail
if diff -u "$2" <("$1" --print-flag-reference) > /dev/null; then
  echo "ok   docs/flags.md matches the CLI ($(grep -c '^| `--' "$2") flags)"
else
  diff -u "$2" <("$1" --print-flag-reference) | head -20
  echo "FAIL: docs/flags.md is stale: regenerate it with build/bin/trident-train --print-flag-reference > docs/flags.md"
  exit 1
fi
