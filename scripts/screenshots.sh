#!/usr/bin/env bash
# Screenshots of the reports as their readers see them: every language at phone (390 px) and desktop
# (1280 px) width, and printed to A4 PDF; for before/after comparisons of a change (README, Development).
# Usage: scripts/screenshots.sh [report folder, default data/reports/<this week>] [output, default /tmp/kestava-shots]
set -euo pipefail
cd "$(dirname "$0")/.."
week="$(date +%G-W%V)"
reports="${1:-data/reports/$week}"
out="${2:-/tmp/kestava-shots}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
mkdir -p "$out"
for lang in fi sv en; do
  page="$PWD/$reports/$lang/report.html"
  [ -f "$page" ] || { echo "no report at $page: run python3 dev.py run (or kestava report --lang $lang)" >&2; exit 2; }
  for width in 390 1280; do
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=8000 \
      --window-size="$width,6000" --screenshot="$out/$lang-$width.png" "file://$page" 2>/dev/null
  done
  "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=8000 --no-pdf-header-footer \
    --print-to-pdf="$out/$lang.pdf" "file://$page" 2>/dev/null
done
ls -1 "$out"
