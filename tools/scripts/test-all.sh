#!/usr/bin/env bash
# `npm test`: every project's lint, typecheck and tests, against real infrastructure.
# Postgres: DATABASE_URL when set, else the embedded one (embedded-postgres, .carve/postgres).
# Kafka: KAFKA_BROKERS when set, else the local single-node broker (tools/kafka, .carve/kafka).
# Infrastructure this script starts, it stops again (by PID) when it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_TUI=false NX_NO_CLOUD=true KAFKAJS_NO_PARTITIONER_WARNING=1
export FORCE_COLOR=0

rm -rf tmp/test-results
mkdir -p tmp

echo "== infrastructure"
node tools/scripts/test-infra.js up > tmp/test-infra.env
# shellcheck disable=SC1091
source tmp/test-infra.env
trap 'node tools/scripts/test-infra.js down || true' EXIT
echo "   DATABASE_URL=${DATABASE_URL//:*@/:***@}"
echo "   KAFKA_BROKERS=${KAFKA_BROKERS}"

echo "== lint and typecheck"
npx nx run-many -t lint typecheck --parallel=2 --outputStyle=stream

echo "== tests"
status=0
npx nx run-many -t test --parallel=2 --outputStyle=stream || status=$?

# The event backbone's Kafka tests again, on a Kafka 4 broker (MSK offers 3.x and 4.x; 4.0
# removed old protocol versions, so kafkajs must keep working there). A broker of its own: its
# version's jars (tools/kafka/.cache/lib-<version>), data dir .carve/kafka-4, port
# CARVE_KAFKA4_PORT (9192); the faults test's own brokers follow CARVE_KAFKA_VERSION too.
KAFKA4_VERSION="${CARVE_KAFKA4_VERSION:-4.1.1}"
echo "== tests on Kafka ${KAFKA4_VERSION}: libs/shared/messaging's *.kafka.spec.ts"
trap 'node tools/carve/bin/carve.js kafka down --data-dir .carve/kafka-4 >/dev/null 2>&1 || true; node tools/scripts/test-infra.js down || true' EXIT
if KAFKA4_BROKERS=$(CARVE_KAFKA_VERSION="$KAFKA4_VERSION" node tools/carve/bin/carve.js kafka up --fresh --port "${CARVE_KAFKA4_PORT:-9192}" --data-dir .carve/kafka-4 | tail -1); then
  (cd libs/shared/messaging && CARVE_KAFKA_VERSION="$KAFKA4_VERSION" KAFKA_BROKERS="$KAFKA4_BROKERS" CARVE_TEST_RESULTS_NAME="libs_shared_messaging_on_kafka_${KAFKA4_VERSION}" \
    npx jest --testPathPatterns '\.kafka\.spec\.ts$') || status=$?
  node tools/carve/bin/carve.js kafka down --data-dir .carve/kafka-4 >/dev/null 2>&1 || true
else
  echo "the Kafka ${KAFKA4_VERSION} broker did not start" >&2
  status=1
fi

node -e '
const fs = require("fs"), path = require("path");
const dir = "tmp/test-results";
let passed = 0, failed = 0, skipped = 0;
const failures = [];
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  console.log(`   ${r.project}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`);
  for (const f of r.failures || []) failures.push(f);
}
for (const f of failures) console.log(`FAILED ${f.test}\n${f.message.replace(/^/gm, "    ")}`);
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
if (passed === 0) { console.error("no test ran"); process.exit(1); }
if (skipped > 0) { console.error("skipped tests are not allowed: fix or delete them"); process.exit(1); }
'
exit $status
