#!/usr/bin/env bash
# The C test suite: builds the C programs, then runs against MONGOELECTOR_TEST_URI
#   - packaging checks (exported symbols, soname, header as C99 and C++, version macros,
#     header current, make install + pkg-config + a program against the installed library)
#   - the single-process tests (test_*.c) natively, and again under valgrind (memcheck,
#     leak check full; tests/c/valgrind.supp) in parallel
#   - two-process tests: me_contender processes on one key (no overlap, fences increase)
#     and an elector failover between two me_elector processes (kill -9 the leader)
#   - the README quick start (tests/c/quickstart.c)
# and prints "N passed, N failed". Exits non-zero on any failure.
#   ME_C_MEMCHECK=0  skip the valgrind pass
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/target/c
logs=$out/logs
cd "$root"

if [ -z "${MONGOELECTOR_TEST_URI:-}" ]; then
  echo "MONGOELECTOR_TEST_URI is not set: run through 'make test', or start a server with" >&2
  echo "  export MONGOELECTOR_SERVER_STATE=/tmp/me-state-\$USER; export MONGOELECTOR_TEST_URI=\$(scripts/test-server start)" >&2
  exit 2
fi
uri=$MONGOELECTOR_TEST_URI

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL  $1"; }

# ---- tools (installed through the ordinary package client when missing) ----
need=()
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v nm >/dev/null || need+=(binutils)
memcheck=${ME_C_MEMCHECK:-1}
if [ "$memcheck" != 0 ] && ! command -v valgrind >/dev/null; then need+=(valgrind); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- build ----
echo "== build"
cargo build --release 2>&1 | tail -n 2
make -C tests/c all
rm -rf "$logs"
mkdir -p "$logs"

# ---- single-process tests under valgrind: started first, in the background ----
tests=()
for src in tests/c/test_*.c; do tests+=("$(basename "$src" .c)"); done
vg_pids=()
memcheck_run() {
  local t rc
  for t in "$@"; do
    rc=0
    ME_TEST_MEMCHECK=1 timeout 300 valgrind --error-exitcode=42 --num-callers=40 --leak-check=full --child-silent-after-fork=yes \
      --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
      --suppressions=tests/c/valgrind.supp -q "$out/$t" >"$logs/$t.valgrind.log" 2>&1 || rc=$?
    echo "$t $rc" >>"$logs/valgrind.status"
  done
}
if [ "$memcheck" != 0 ]; then
  # two streams (the tests mostly wait on the server and on timers)
  half=$(((${#tests[@]} + 1) / 2))
  memcheck_run "${tests[@]:0:$half}" &
  vg_pids+=($!)
  memcheck_run "${tests[@]:$half}" &
  vg_pids+=($!)
fi

# ---- packaging ----
echo "== packaging"
lib=target/release/libmongoelector.so
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
# The soname names the ABI: before 1.0 it changes with every minor release (libmongoelector.so.0.2).
if [ "$major" = 0 ]; then abi=0.$minor; else abi=$major; fi

# The C ABI 0.2, function by function (the contract; a change here is an ABI change), with
# issue 15's and 16's additions (held, lease and term tokens, the observed leader, healthy, stats).
expected_symbols="me_acquire_options_init me_cancel_cancel me_cancel_free me_cancel_is_cancelled me_cancel_new
me_cancel_wait me_client_free me_client_new me_cluster_detail_free me_current_lock_free
me_elector_close me_elector_cluster_detail me_elector_free me_elector_healthy me_elector_is_leader
me_elector_key me_elector_leader me_elector_leader_exists me_elector_locker me_elector_new
me_elector_node_status me_elector_options_init me_elector_poll me_elector_poll_wait
me_elector_release me_elector_run me_elector_running me_elector_start me_elector_stats me_elector_stop
me_elector_term_token me_elector_ttl me_error_free me_error_message me_error_status
me_last_error_message me_leader_info_free me_lock_status_free me_locker_acquire me_locker_close
me_locker_current me_locker_db_name me_locker_dbcollection me_locker_fence me_locker_free
me_locker_held me_locker_host me_locker_key me_locker_lease_token me_locker_locked
me_locker_maxoffset me_locker_new me_locker_options_init me_locker_owned me_locker_pid
me_locker_release me_locker_stats me_locker_status me_locker_timeparanoid me_locker_touch
me_locker_ts_expire me_locker_ttl me_locker_uuid me_locker_verify_time me_node_status_free
me_set_log_callback me_status_name me_version"
expected_symbols=$(echo "$expected_symbols" | tr ' ' '\n' | sed '/^$/d' | sort -u)

others=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^me_' || true)
if [ -z "$others" ]; then
  pass "nm -D: only me_* symbols exported ($(nm -D --defined-only "$lib" | grep -c ' me_') symbols)"
else
  fail "nm -D: non-me_ symbols exported: $(echo "$others" | tr '\n' ' ')"
fi
# every function the header declares is exported, and every export is declared
declared=$(grep -oE '\bme_[a-z_0-9]+\(' include/mongoelector.h | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep '^me_' | sort -u)
if [ "$declared" = "$exported" ]; then
  pass "the header's $(echo "$declared" | wc -l) functions are exactly the exported symbols"
else
  fail "header vs exports differ: $(diff <(echo "$declared") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
fi
if [ "$exported" = "$expected_symbols" ]; then
  pass "the exports are exactly the $(echo "$expected_symbols" | wc -l) functions of the C ABI $abi"
else
  fail "exports vs the expected C ABI $abi list: $(diff <(echo "$expected_symbols") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
fi
gone=$(echo "$exported" | grep -xE 'me_(acquire|try_acquire|release|touch|locked|owned|get_current|string_free)' || true)
if [ -z "$gone" ]; then pass "no 0.1 function is exported (me_acquire, me_try_acquire, me_string_free, ...)"; else
  fail "0.1 functions still exported: $(echo "$gone" | tr '\n' ' ')"
fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" = "libmongoelector.so.$abi" ]; then pass "soname $soname"; else fail "soname '$soname', expected libmongoelector.so.$abi"; fi
if [ -e "target/release/libmongoelector.so.$abi" ]; then pass "target/release/libmongoelector.so.$abi exists (in-tree programs load it by soname)"; else
  fail "target/release/libmongoelector.so.$abi is missing"
fi
needed=$(readelf -d "$out/test_basics" | sed -n 's/.*Shared library: \[\(libmongoelector[^]]*\)\]/\1/p')
if [ "$needed" = "libmongoelector.so.$abi" ]; then pass "a C program records NEEDED $needed"; else fail "a C program's NEEDED is '$needed', expected libmongoelector.so.$abi"; fi

printf '#include "mongoelector.h"\nint main(void) { return me_version() == 0; }\n' >"$out/header_c99.c"
if cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only "$out/header_c99.c" 2>"$logs/header_c99.log"; then
  pass "the header compiles alone as C99 (-Wall -Wextra -Werror -pedantic)"
else
  fail "the header does not compile as C99: $(head -c 600 "$logs/header_c99.log")"
fi
if "$out/header_cpp_check"; then pass "the header compiles and links as C++17 (header_check.cpp)"; else fail "header_cpp_check"; fi
if c++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -fsyntax-only "$out/header_c99.c" 2>"$logs/header_cxx11.log"; then
  pass "the header compiles as C++11"
else
  fail "the header does not compile as C++11: $(head -c 600 "$logs/header_cxx11.log")"
fi
hv=$(awk '/#define ME_VERSION_(MAJOR|MINOR|PATCH)/{v[$2]=$3} END{print v["ME_VERSION_MAJOR"]"."v["ME_VERSION_MINOR"]"."v["ME_VERSION_PATCH"]}' include/mongoelector.h)
if [ "$hv" = "$version" ]; then pass "ME_VERSION_* ($hv) match Cargo.toml ($version)"; else fail "ME_VERSION_* $hv != Cargo.toml $version"; fi
if git diff --quiet --exit-code -- include/ && [ -z "$(git status --porcelain -- include/)" ]; then
  pass "include/mongoelector.h is current (unchanged by the build)"
else
  fail "include/ differs from git after the build (stale header): $(git status --porcelain -- include/ | tr '\n' ' ')"
fi

# run_quickstart BINARY WHAT: runs $out/BINARY against the server; it must lead.
run_quickstart() {
  if timeout 60 "$out/$1" "$uri" >"$logs/$1.log" 2>&1 && grep -q "I am the leader" "$logs/$1.log"; then
    pass "$2 runs against the server"
  else
    fail "$2 failed: $(head -c 600 "$logs/$1.log")"
  fi
}

prefix=$(mktemp -d "${TMPDIR:-/tmp}/me-install.XXXXXX")
if make --no-print-directory install PREFIX="$prefix" >"$logs/install.log" 2>&1; then
  pass "make install PREFIX=$prefix"
  pc="$prefix/lib/pkgconfig"
  if flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs mongoelector 2>"$logs/pkgconfig.log"); then
    pass "pkg-config --cflags --libs mongoelector: $flags"
    pcver=$(PKG_CONFIG_PATH=$pc pkg-config --modversion mongoelector)
    [ "$pcver" = "$version" ] && pass "pkg-config --modversion $pcver" || fail "pkg-config version $pcver != $version"
    libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir mongoelector)
    # shellcheck disable=SC2086
    if cc -std=c99 -Wall -Wextra -Werror -pedantic tests/c/quickstart.c -o "$out/quickstart_installed" \
      $flags -Wl,-rpath,"$libdir" 2>"$logs/installed_build.log"; then
      pass "quickstart.c builds against the installed header and library"
      resolved=$(ldd "$out/quickstart_installed" | awk '/libmongoelector/{print $3}')
      case "$resolved" in
        "$prefix"/*) pass "it loads the installed library ($resolved)" ;;
        *) fail "it loads $resolved, not the installed library" ;;
      esac
      run_quickstart quickstart_installed "the installed quick start"
    else
      fail "quickstart.c against the installed library: $(head -c 600 "$logs/installed_build.log")"
    fi
    # The static library, with the system libraries pkg-config lists for a static link.
    static_libs=$(PKG_CONFIG_PATH=$pc pkg-config --static --libs-only-l mongoelector | sed 's/-lmongoelector//')
    cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags mongoelector)
    # shellcheck disable=SC2086
    if cc -std=c99 -Wall -Wextra -Werror -pedantic tests/c/quickstart.c -o "$out/quickstart_static" \
      $cflags "$libdir/libmongoelector.a" $static_libs \
      2>"$logs/static_build.log"; then
      deps=$(ldd "$out/quickstart_static")
      if [[ $deps == *libmongoelector* ]]; then
        fail "the static quick start still loads libmongoelector.so"
      else
        run_quickstart quickstart_static "quickstart.c linked with libmongoelector.a (and pkg-config --static libs)"
      fi
    else
      fail "quickstart.c against libmongoelector.a: $(head -c 600 "$logs/static_build.log")"
    fi
  else
    fail "pkg-config: $(cat "$logs/pkgconfig.log")"
  fi
  for f in lib/libmongoelector.so "lib/libmongoelector.so.$abi" "lib/libmongoelector.so.$version" \
    lib/libmongoelector.a include/mongoelector.h; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
  done
else
  fail "make install PREFIX=$prefix: $(tail -n 5 "$logs/install.log")"
fi
rm -rf "$prefix"

# ---- single-process tests, natively ----
echo "== single-process tests"
for t in "${tests[@]}"; do
  rc=0
  timeout 300 "$out/$t" >"$logs/$t.log" 2>&1 || rc=$?
  grep -E '^(--|  (FAIL|XFAIL|XPASS))|^ +at |passed, .* failed|known-bug' "$logs/$t.log" | sed 's/^/    /' || true
  summary=$(grep -E "^$t: [0-9]+ passed" "$logs/$t.log" || echo "no summary (crashed? exit $rc)")
  if [ $rc = 0 ]; then pass "$t: $summary"; else fail "$t (exit $rc): $summary; log $logs/$t.log"; fi
done

# ---- two processes contend for one key ----
echo "== two-process tests"
contend() {
  local procs=$1 iters=$2 hold=$3 db key log pids=() i rc=0
  db="ctest_contend_$$_$RANDOM"
  key="k$RANDOM"
  log=$logs/contention_$procs.log
  : >"$log"
  for i in $(seq 1 "$procs"); do
    timeout 120 "$out/me_contender" "$uri" "$db" "$key" "$iters" "$hold" "$log" 2>>"$logs/contenders.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=$?; done
  if [ $rc != 0 ]; then
    fail "$procs me_contender processes: one exited $rc: $(tail -n 3 "$logs/contenders.err")"
    return
  fi
  if res=$("$out/check_intervals" "$log" $((procs * iters))); then
    pass "$procs me_contender processes x $iters holdings: $res"
  else
    fail "$procs me_contender processes: $res"
  fi
}
t0=$(date +%s)
contend 2 4 100
contend 3 3 50
echo "    (contention took $(($(date +%s) - t0)) s)"

# ---- elector failover: kill -9 the leader, the other takes over ----
failover() {
  local ttl=2 db key a b la lb leader_pid other_pid other_out t_kill t_new took ok=0 i
  db="ctest_failover_$$_$RANDOM"
  key="k$RANDOM"
  la=$logs/elector_a.log
  lb=$logs/elector_b.log
  "$out/me_elector" "$uri" "$db" "$key" "$ttl" 0 >"$la" 2>"$logs/elector_a.err" &
  a=$!
  "$out/me_elector" "$uri" "$db" "$key" "$ttl" 0 >"$lb" 2>"$logs/elector_b.err" &
  b=$!
  for i in $(seq 1 300); do
    if grep -q '^leader' "$la" "$lb" 2>/dev/null; then ok=1; break; fi
    sleep 0.05
  done
  if [ $ok != 1 ]; then
    fail "elector failover: no leader within 15 s"
    kill -9 $a $b 2>/dev/null || true
    wait $a $b 2>/dev/null || true
    return
  fi
  sleep 1
  local na nb
  na=$(grep -c '^leader' "$la" || true)
  nb=$(grep -c '^leader' "$lb" || true)
  if [ $((na + nb)) = 1 ]; then pass "elector failover: exactly one of two processes leads"; else
    fail "elector failover: $na + $nb leaders before the kill"
  fi
  if [ "$na" -ge 1 ]; then leader_pid=$a; other_pid=$b; other_out=$lb; else leader_pid=$b; other_pid=$a; other_out=$la; fi
  t_kill=$(date +%s%N)
  kill -9 "$leader_pid"
  wait "$leader_pid" 2>/dev/null || true
  ok=0
  for i in $(seq 1 300); do
    if grep -q '^leader' "$other_out"; then ok=1; break; fi
    sleep 0.02
  done
  t_new=$(date +%s%N)
  took=$(awk -v a="$t_kill" -v b="$t_new" 'BEGIN{printf "%.2f", (b-a)/1e9}')
  # the lease (ttl) must run out first; a generous bound of ttl + 3 s for noisy machines
  if [ $ok = 1 ] && awk -v t="$took" -v ttl=$ttl 'BEGIN{exit !(t <= ttl + 3)}'; then
    pass "elector failover: after kill -9 of the leader the other led in $took s (ttl $ttl s, bound $((ttl + 3)) s)"
  else
    fail "elector failover: the survivor did not lead within $((ttl + 3)) s of kill -9 (ok=$ok, $took s)"
  fi
  kill -TERM "$other_pid" 2>/dev/null || true
  local rc=0
  wait "$other_pid" || rc=$?
  if [ $rc = 0 ] && tail -n1 "$other_out" | grep -q '^loss c '; then
    pass "elector failover: SIGTERM stops the survivor with a final loss line, exit 0"
  else
    fail "elector failover: survivor exit $rc, last line: $(tail -n1 "$other_out")"
  fi
}
failover

# ---- README quick start (in-tree) ----
echo "== quick start"
if timeout 60 "$out/quickstart" "$uri" >"$logs/quickstart.log" 2>&1 &&
  grep -q "lock held, fencing token" "$logs/quickstart.log" &&
  grep -q "I am the leader" "$logs/quickstart.log" && grep -q "no longer the leader" "$logs/quickstart.log"; then
  pass "quickstart.c runs: $(tr '\n' ';' <"$logs/quickstart.log")"
else
  fail "quickstart.c: $(head -c 600 "$logs/quickstart.log")"
fi

# ---- the valgrind pass ----
if [ ${#vg_pids[@]} -gt 0 ]; then
  echo "== valgrind (memcheck, leak check full)"
  for p in "${vg_pids[@]}"; do wait "$p" || true; done
  for t in "${tests[@]}"; do
    rc=$(awk -v t="$t" '$1==t{print $2}' "$logs/valgrind.status" 2>/dev/null)
    vlog=$logs/$t.valgrind.log
    summary=$(grep -E "^$t: [0-9]+ passed" "$vlog" || echo "no summary")
    if [ "$rc" = 0 ]; then
      pass "valgrind $t: no memory errors, no leaks ($summary)"
    elif [ "$rc" = 42 ]; then
      grep -E '^==[0-9]+== (Invalid|Conditional|Use of|.*(definitely|indirectly|possibly) lost in loss)' "$vlog" | head -n 5 | sed 's/^/    /'
      fail "valgrind $t: memory errors or leaks, see $vlog"
    else
      grep -E '^  FAIL' -A1 "$vlog" | head -n 6 | sed 's/^/    /' || true
      fail "valgrind $t: exit ${rc:-?} ($summary), see $vlog"
    fi
  done
fi

echo
if [ $failed -gt 0 ]; then
  echo "failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
