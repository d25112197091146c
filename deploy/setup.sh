#!/usr/bin/env bash
# Set up a fresh Debian machine for rvrota: system packages (PostgreSQL, Chromium),
# the Python package with its test extras, and the Apache Kafka broker's jars
# (through Maven, into Maven's own cache). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# CJK glyphs for the pages' Chinese labels in headless Chromium
[ -d /usr/share/fonts/opentype/noto ] || need_apt+=(fonts-noto-cjk)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "setup: pip install -e .[test]" >&2
python3 -m pip install -q --disable-pip-version-check -e ".[test]"

# The peer solvers (../shared/tools/peers) in a venv of their own, pinned: the
# side-by-side benchmarks and tests/solver/test_bound_vs_pyvrp.py run PyVRP from it.
peers_venv="${RVROTA_PEERS_VENV:-$HOME/.venvs/peers}"
if [ ! -x "$peers_venv/bin/python" ]; then
  echo "setup: peers venv at $peers_venv" >&2
  python3 -m venv "$peers_venv"
fi
"$peers_venv/bin/python" -m pip install -q --disable-pip-version-check \
  "pyvrp==0.14.1" "ortools==9.15.6755"

if [ -x deploy/kafka/fetch.sh ]; then
  echo "setup: Apache Kafka jars through Maven" >&2
  deploy/kafka/fetch.sh
fi
echo "setup: done" >&2
