# Test legs shared by scripts/setup and scripts/test (sourced, not run).
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
