#!/usr/bin/env bash
# Review page on the large benchmark collection (issue 5: "fast on 50k notes"): time until the page is
# served (read + scan + load), the answer time of the page's requests, and peak memory of `prepare`.
#
#   bash Tests/Benchmarks/review/run.sh [BENCH_DIR]     # needs BENCH_DIR/large-latest.apkg (make bench makes it)
#
# Prints a Markdown table; `make bench-review` runs it after a release build.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bench_dir="${1:-bench-data}"
bin="${ANKI_SUBMIT_BIN:-.build/release/anki-submit}"
deck="$bench_dir/large-latest.apkg"
[ -f "$deck" ] || { echo "no $deck: run make bench first (it makes the large collection)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
/usr/bin/time -v "$bin" prepare "$deck" --no-browser --out "$work/out" --timezone Europe/Berlin \
  >"$work/stdout" 2>"$work/stderr" &
until grep -q "^Review page: " "$work/stdout" 2>/dev/null; do
  sleep 0.05
  if ! kill -0 $! 2>/dev/null; then cat "$work/stderr" >&2; exit 1; fi
done
ready=$(echo "$(date +%s.%N) - $start" | bc)
url=$(sed -n 's/^Review page: //p' "$work/stdout")
port=$(echo "$url" | cut -d: -f3 | cut -d/ -f1)
csrf=$(curl -s "$url" | grep -o 'csrf-token" content="[^"]*' | cut -d'"' -f3)
notes=$(curl -s "${url}api/state" | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["notes_kept"]+s["notes_excluded"])')
echo "| request | answer time | size |"
echo "|---|---|---|"
for q in "" "api/state" "api/notes?page=0&size=25" "api/notes?page=1500&size=25" "api/notes?q=haus&page=0&size=25" \
         "api/notes?filter=excluded&page=0&size=25" "api/languages"; do
  best=999
  for _ in 1 2 3; do
    t=$(curl -s -o "$work/body" -w "%{time_total}" "$url$q")
    best=$(python3 -c "print(min($best, $t))")
  done
  printf '| `GET %s` | %.0f ms | %s B |\n' "/<secret>/$q" "$(echo "$best * 1000" | bc)" "$(stat -c %s "$work/body")"
done
post() {
  curl -s -o /dev/null -w "%{time_total}" -X POST -H "Content-Type: application/json" -H "Origin: http://127.0.0.1:$port" \
    -H "X-CSRF-Token: $csrf" --data "$2" "${url}$1"
}
printf '| `POST api/bulk` (exclude every note matching a search) | %.0f ms | |\n' "$(echo "$(post api/bulk '{"q":"e","exclude":true}') * 1000" | bc)"
printf '| `POST api/bulk` (include all again) | %.0f ms | |\n' "$(echo "$(post api/bulk '{"exclude":false}') * 1000" | bc)"
post api/quit '{}' >/dev/null
wait || true
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/stderr")
echo
echo "Collection: $notes notes. Page served after **$(printf '%.2f' "$ready") s** (unpack, read, scan, load); peak RSS of prepare **$((rss / 1024)) MiB**."
