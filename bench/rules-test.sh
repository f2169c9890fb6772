#!/usr/bin/env bash
# Times `opsdeck rules test` against `promtool test rules` on the same
# generated test file, on this machine, in this run.
#
#   bench/rules-test.sh            # builds opsdeck in release mode first
#   OPSDECK=path/to/opsdeck bench/rules-test.sh
#   RUNS=5 bench/rules-test.sh     # timed runs per tool (default 3)
#
# The file: 2,000 input series x 1,000 samples (1m apart), 50 rules (25
# recording, 25 alerting with templated annotations, 1,250 alerts firing
# at the end), evaluated every minute for 1,000 minutes, with alert and
# PromQL assertions that pass under both tools.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
if [ -z "${OPSDECK:-}" ]; then
  cargo build --release -p opsdeck >/dev/null
  OPSDECK="$PWD/target/release/opsdeck"
fi
command -v promtool >/dev/null || { echo "promtool not found (apt-get install prometheus)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

instances=50
metrics=20
samples=1000
last=$((samples - 1))

awk -v metrics="$metrics" 'BEGIN {
  print "groups:"
  print "  - name: bench-recording"
  print "    rules:"
  for (k = 0; k < 25; k++) {
    printf "      - record: bench:counter_%d:rate5m\n", k
    printf "        expr: sum by (job) (rate(bench_counter_%d[5m]))\n", k % metrics
  }
  print "  - name: bench-alerting"
  print "    rules:"
  for (k = 0; k < 25; k++) {
    printf "      - alert: BenchHigh%d\n", k
    printf "        expr: bench_gauge_%d > %d\n", k % metrics, 500 + k * 10
    print  "        for: 5m"
    print  "        labels:"
    print  "          severity: warning"
    print  "        annotations:"
    print  "          summary: \"{{ $labels.instance }} of {{ $labels.job }} is high\""
    print  "          description: \"value {{ $value | humanize }}\""
  }
}' > "$work/rules.yml"

awk -v instances="$instances" -v metrics="$metrics" -v last="$last" '
function humanize(v) { return v >= 1000 ? sprintf("%.4gk", v / 1000) : sprintf("%.4g", v) }
BEGIN {
  print "rule_files: [rules.yml]"
  print "evaluation_interval: 1m"
  print "tests:"
  print "  - interval: 1m"
  print "    input_series:"
  for (m = 0; m < metrics; m++) {
    for (i = 0; i < instances; i++) {
      printf "      - series: %cbench_counter_%d{job=\"bench\", instance=\"host-%d:9100\"}%c\n", 39, m, i, 39
      printf "        values: %c0+%dx%d%c\n", 39, i + 1, last, 39
      printf "      - series: %cbench_gauge_%d{job=\"bench\", instance=\"host-%d:9100\"}%c\n", 39, m, i, 39
      printf "        values: %c0+%dx%d%c\n", 39, (i % 10) + 1, last, 39
    }
  }
  print "    alert_rule_test:"
  for (k = 0; k < 25; k += 6) {
    printf "      - eval_time: %dm\n", last
    printf "        alertname: BenchHigh%d\n", k
    print  "        exp_alerts:"
    for (i = 0; i < instances; i++) {
      printf "          - exp_labels: {severity: warning, job: bench, instance: \"host-%d:9100\"}\n", i
      printf "            exp_annotations: {summary: \"host-%d:9100 of bench is high\", description: \"value %s\"}\n", i, humanize(((i % 10) + 1) * last)
    }
  }
  print "    promql_expr_test:"
  printf "      - expr: count(ALERTS{alertstate=\"firing\"})\n"
  printf "        eval_time: %dm\n", last
  print  "        exp_samples:"
  printf "          - value: %d\n", 25 * instances
}' > "$work/bench_test.yml"

echo "test file: $(grep -c "      - series:" "$work/bench_test.yml") series x $samples samples, $(grep -cE "^      - (record|alert):" "$work/rules.yml") rules"
echo "opsdeck:  $OPSDECK"
echo "promtool: $(promtool --version 2>&1 | head -1)"

# Both must pass before their speed means anything (this also warms the
# page cache for the timed runs).
(cd "$work" && "$OPSDECK" rules test bench_test.yml >/dev/null) || { echo "opsdeck failed the bench test" >&2; exit 1; }
(cd "$work" && promtool test rules bench_test.yml >/dev/null) || { echo "promtool failed the bench test" >&2; exit 1; }

if command -v hyperfine >/dev/null; then
  (cd "$work" && hyperfine --runs "$RUNS" \
    -n opsdeck "$OPSDECK rules test bench_test.yml" \
    -n promtool "promtool test rules bench_test.yml")
else
  best() {
    local best_ms=""
    for _ in $(seq "$RUNS"); do
      local start end ms
      start=$(date +%s%N)
      (cd "$work" && "$@" >/dev/null)
      end=$(date +%s%N)
      ms=$(( (end - start) / 1000000 ))
      if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then best_ms=$ms; fi
    done
    echo "$best_ms"
  }
  ours=$(best "$OPSDECK" rules test bench_test.yml)
  theirs=$(best promtool test rules bench_test.yml)
  echo "opsdeck rules test:  best of $RUNS: ${ours} ms"
  echo "promtool test rules: best of $RUNS: ${theirs} ms"
  awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "opsdeck is %.2fx faster\n", b / a }'
fi
