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

node -e '
const fs = require("fs"), path = require("path");
const dir = "tmp/test-results";
let passed = 0, failed = 0, skipped = 0;
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  console.log(`   ${r.project}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`);
}
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
if (passed === 0) { console.error("no test ran"); process.exit(1); }
if (skipped > 0) { console.error("skipped tests are not allowed: fix or delete them"); process.exit(1); }
'
exit $status
