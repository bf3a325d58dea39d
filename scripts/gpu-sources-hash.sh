#!/usr/bin/env bash
# One hash of the files dist/ is compiled from (src, bench, test, tsconfig*): gpu-stage.sh records it,
# gpu-check.sh compares it, so a packed dist/ is never run against other sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
find src bench test tsconfig.json tsconfig.web.json -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.json' -o -name '*.py' \) -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
