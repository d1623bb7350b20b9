// Records each Jest run's counts in tmp/test-results so `npm test` can print one closing
// line for the whole workspace ("tests: N passed, N failed"), and each failure's name and the
// head of its message, so the end of a long CI log says what failed without scrolling back.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }
  onRunComplete(_contexts, results) {
    const dir = path.join(__dirname, '..', '..', 'tmp', 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    // CARVE_TEST_RESULTS_NAME names a second run of a project's tests (another broker version).
    const name = process.env.CARVE_TEST_RESULTS_NAME || path.relative(path.join(__dirname, '..', '..'), this.rootDir).replace(/[\\/]/g, '_') || 'root';
    fs.writeFileSync(
      path.join(dir, `${name}.json`),
      JSON.stringify({
        project: name,
        passed: results.numPassedTests,
        failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
        skipped: results.numPendingTests + results.numTodoTests,
        failures: failuresOf(results, this.rootDir),
      }),
    );
  }
}

const HEAD_LINES = 12;

function failuresOf(results, rootDir) {
  const out = [];
  for (const file of results.testResults) {
    const where = path.relative(rootDir, file.testFilePath);
    if (file.testExecError) out.push({ test: where, message: head(file.testExecError.message || String(file.testExecError)) });
    for (const t of file.testResults) {
      if (t.status === 'failed') out.push({ test: `${where} › ${t.fullName}`, message: head(t.failureMessages.join('\n')) });
    }
  }
  return out;
}

function head(text) {
  return text.split('\n').filter((l) => l.trim() !== '').slice(0, HEAD_LINES).join('\n');
}

module.exports = SummaryReporter;
