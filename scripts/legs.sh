# Test legs shared by scripts/setup and scripts/test, and a helper for running
# commands that start brokers (sourced, not run).
# A leg: its virtualenv, its requirements file, its Python, extra pip flags.
LEGS=(ha2025.4 ha2026.2 ha2026.10)
declare -A LEG_VENV=([ha2025.4]=.venv [ha2026.2]=.venv-ha2026.2 [ha2026.10]=.venv-ha2026.10)
declare -A LEG_REQS=(
  [ha2025.4]=requirements_test.txt
  [ha2026.2]=requirements_test_ha2026.2.txt
  [ha2026.10]=requirements_test_ha2026.10.txt
)
declare -A LEG_PYTHON=([ha2025.4]=3.13 [ha2026.2]=3.13 [ha2026.10]=3.14)
declare -A LEG_PIP_FLAGS=([ha2025.4]="" [ha2026.2]="--ignore-requires-python" [ha2026.10]="")
# Linters and type checks run with the primary leg.
PRIMARY_LEG=ha2025.4

# Legs named on the command line, or all of them.
select_legs() {
  if (($# == 0)); then
    SELECTED=("${LEGS[@]}")
    return
  fi
  SELECTED=()
  for leg in "$@"; do
    [[ -n ${LEG_VENV[$leg]:-} ]] || { echo "unknown leg '$leg' (known: ${LEGS[*]})" >&2; exit 2; }
    SELECTED+=("$leg")
  done
}

# The virtualenv of a leg, once scripts/setup has made it.
leg_venv() {
  local venv=${LEG_VENV[$1]}
  [[ -x $venv/bin/python ]] || { echo "$1: $venv is missing: run scripts/setup $1 first" >&2; return 1; }
  echo "$venv"
}

# Run a command (scripts/test: pytest, and the brokers its tests start) in a
# process group of its own, and give its exit status. SIGINT, SIGTERM or SIGHUP
# to the script end the whole group (with SIGTERM, which they obey whatever
# they were started with), and the script waits until they have: nothing is
# left listening. (Bash cannot trap a SIGINT it was started with ignored, as a
# script's background job is; SIGTERM works there.)
stop_own_group() {
  [[ -n $1 ]] || return 0
  kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
}

in_own_group() {
  # A background job of a script is no group leader, so setsid makes the job
  # itself (not a child of its own) the leader of a new group: its pid names it.
  # The trap is set before the job starts: a signal that came between the two
  # would end this shell at once and leave the group running. Until the group
  # exists (setsid not yet called, or its pid not yet known), the job itself is
  # what to end.
  local pid='' status=0 stopping=0
  trap 'stopping=1; stop_own_group "$pid"' INT TERM HUP
  setsid "$@" &
  pid=$!
  ((stopping == 0)) || stop_own_group "$pid"
  wait "$pid" || status=$?
  while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
  # Its children too, which may end a moment after it; after 10 s, by force.
  local tries=0
  while kill -0 -- "-$pid" 2>/dev/null; do
    ((tries++ < 100)) || { kill -KILL -- "-$pid" 2>/dev/null || true; break; }
    sleep 0.1
  done
  trap - INT TERM HUP
  return "$status"
}
