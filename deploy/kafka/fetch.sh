#!/usr/bin/env bash
# Resolve the local Apache Kafka broker's jars (deploy/kafka/pom.xml) with Maven
# into Maven's own cache (~/.m2) and write their class path to a file outside
# the checkout's tracked files (default: <repo>/var/kafka-classpath.txt, gitignored).
# Reuses the cache: a second run with every jar present asks Maven nothing.
#
# usage: deploy/kafka/fetch.sh [OUTPUT_FILE]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/var/kafka-classpath.txt}"
mkdir -p "$(dirname "$out")"

pom_sum="$(sha256sum "$here/pom.xml" | cut -c1-16)"
if [ -s "$out" ] && [ "$(head -1 "$out")" = "# pom $pom_sum" ]; then
  missing=0
  while IFS= read -r jar; do
    [ -f "$jar" ] || { missing=1; break; }
  done < <(tail -n +2 "$out" | tr ':' '\n')
  if [ "$missing" = 0 ]; then
    echo "kafka jars: cached ($out)" >&2
    exit 0
  fi
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "fetch.sh: java not found (Java 17+ needed)" >&2; exit 1; }
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:build-classpath \
  -Dmdep.includeScope=runtime -Dmdep.outputFile="$tmp"
{ echo "# pom $pom_sum"; cat "$tmp"; echo; } > "$out.part"
mv "$out.part" "$out"
echo "kafka jars: resolved ($(tail -n +2 "$out" | tr ':' '\n' | grep -c jar) jars, $out)" >&2
