#!/usr/bin/env bash
# Cross-language tests between the C++ programs and the C ones
# (target/c/me_contender, me_elector; built with `make -C tests/c programs`).
#   cross_lang_test.sh contention CPP_CONTENDER CPP_ELECTOR
#   cross_lang_test.sh election   CPP_CONTENDER CPP_ELECTOR
set -euo pipefail
mode=$1 cpp_contender=$2 cpp_elector=$3
root=${MONGOELECTOR_ROOT:?}
uri=${MONGOELECTOR_TEST_URI:?MONGOELECTOR_TEST_URI is not set}
c_contender=$root/target/c/me_contender
c_elector=$root/target/c/me_elector
if [ ! -x "$c_contender" ] || [ ! -x "$c_elector" ]; then
  make -C "$root/tests/c" --no-print-directory programs >&2 || true
fi
if [ ! -x "$c_contender" ] || [ ! -x "$c_elector" ]; then
  echo "SKIP: the C programs are missing and 'make -C tests/c programs' did not build them"
  exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
db="cpp_cross_${mode}_$$"

contention() {
  local iterations=6 hold_ms=40 log=$tmp/contention.log
  : > "$log"
  # Two C++ processes and two C processes on one key.
  "$cpp_contender" "$uri" "$db" shared $iterations $hold_ms "$log" & pids+=($!)
  "$c_contender" "$uri" "$db" shared $iterations $hold_ms "$log" & pids+=($!)
  "$cpp_contender" "$uri" "$db" shared $iterations $hold_ms "$log" & pids+=($!)
  "$c_contender" "$uri" "$db" shared $iterations $hold_ms "$log" & pids+=($!)
  local rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  pids=()
  [ $rc -eq 0 ] || { echo "FAIL: a contender exited non-zero"; cat "$log"; exit 1; }
  cat "$log"
  # Sorted by start: each interval starts after the previous one ended, and
  # the fencing tokens strictly increase.
  sort -k4,4n "$log" | awk -v want=$((4 * iterations)) '
    NF != 5 { print "FAIL: malformed line: " $0; bad = 1 }
    { n++; langs[$1]++
      if (n > 1 && $4 <= end) { print "FAIL: overlap: " prev " / " $0; bad = 1 }
      if (n > 1 && $3 <= fence) { print "FAIL: fence not increasing: " prev " / " $0; bad = 1 }
      if ($5 < $4) { print "FAIL: end before start: " $0; bad = 1 }
      end = $5; fence = $3; prev = $0 }
    END {
      if (n != want) { print "FAIL: " n " lines, want " want; bad = 1 }
      if (langs["cpp"] != want / 2 || langs["c"] != want / 2) { print "FAIL: wrong lines per language"; bad = 1 }
      if (!bad) print "ok: " n " holdings by cpp and c, none overlapping, fences increasing"
      exit bad }'
}

# waitfor FILE PATTERN: a line matching PATTERN appears in FILE (generous bound).
waitfor() {
  local i
  for i in $(seq 1 600); do
    grep -q "$2" "$1" && return 0
    sleep 0.1
  done
  echo "FAIL: no '$2' in $1:"; cat "$1"; return 1
}

election() {
  local out_cpp=$tmp/cpp.out out_c=$tmp/c.out
  # The C++ elector starts first and leads; the C one follows.
  "$cpp_elector" "$uri" "$db" group 2 0 > "$out_cpp" & local cpp_pid=$!; pids+=($cpp_pid)
  waitfor "$out_cpp" '^leader cpp '
  "$c_elector" "$uri" "$db" group 2 0 > "$out_c" & local c_pid=$!; pids+=($c_pid)
  sleep 3  # more than a ttl: the C elector must not take over a renewing leader
  if grep -q '^leader' "$out_c"; then echo "FAIL: two leaders"; cat "$out_cpp" "$out_c"; exit 1; fi
  kill -TERM $cpp_pid
  wait $cpp_pid || { echo "FAIL: the C++ elector exited non-zero"; exit 1; }
  waitfor "$out_cpp" '^loss cpp '
  waitfor "$out_c" '^leader c '
  # And back: the C leader stops, a new C++ elector takes over.
  "$cpp_elector" "$uri" "$db" group 2 0 > "$out_cpp.2" & cpp_pid=$!; pids+=($cpp_pid)
  sleep 1
  kill -TERM $c_pid
  wait $c_pid || { echo "FAIL: the C elector exited non-zero"; exit 1; }
  waitfor "$out_c" '^loss c '
  waitfor "$out_cpp.2" '^leader cpp '
  kill -TERM $cpp_pid
  wait $cpp_pid || { echo "FAIL: the second C++ elector exited non-zero"; exit 1; }
  pids=()
  cat "$out_cpp" "$out_c" "$out_cpp.2"
  # Leadership went cpp -> c -> cpp; each process led once and then lost it.
  # (Intervals are not compared across processes: a voluntary release fires
  # on_leader_loss after the lock is released, so the next leader's
  # on_leader may print first. The no-takeover window above is the check.)
  cat "$out_cpp" "$out_c" "$out_cpp.2" | sort -k4,4n | awk '
    NF != 4 { print "FAIL: malformed line: " $0; bad = 1 }
    $1 == "leader" { order = order $2 " "; if (led[$3]++) { print "FAIL: led twice: " $0; bad = 1 } }
    $1 == "loss" { if (!led[$3]) { print "FAIL: loss before leadership: " $0; bad = 1 } lost[$3]++ }
    END {
      if (order != "cpp c cpp ") { print "FAIL: leaders in order \"" order "\", want cpp c cpp"; bad = 1 }
      for (p in led) if (lost[p] != 1) { print "FAIL: process " p " lost " lost[p] + 0 " times"; bad = 1 }
      if (!bad) print "ok: leadership passed cpp -> c -> cpp, no takeover of a live leader"
      exit bad }'
}

case $mode in
  contention) contention ;;
  election) election ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
