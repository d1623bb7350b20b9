// StrykerJS settings shared by the `mutation` target of every project that has one (its
// stryker.config.cjs calls this). See docs/testing.md.
//
// - The sandbox (Stryker's mutated copy of the project) lives in <root>/tmp/stryker-<project>/
//   sandbox-XXXX: three levels below the root, like libs/<scope>/<name>, so the project's
//   jest.config.js and tsconfig.json find ../../../jest.preset.js and ../../../tsconfig.base.json
//   there too, and Node finds the root node_modules by walking up.
// - One test runner (the machine is shared), per-test coverage, and Jest's findRelatedTests: a
//   mutant runs only the tests that reached it.
// - Reports: tmp/mutation/<project>/index.html and report.json (tmp/ is git-ignored).
// - thresholds.break: the score the project reached when its tests were last strengthened. A
//   run below it fails the target, so a deleted or weakened test shows up as a failure.
'use strict';
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/**
 * @param {object} o
 * @param {string} o.project  the Nx project name (names the sandbox and report folders)
 * @param {string} o.dir      the project's folder (the config's __dirname)
 * @param {string[]} o.mutate the files (or `file:from-to` line ranges) whose mutants count
 * @param {number} o.breakAt  the lowest acceptable mutation score, in percent
 * @param {object} [o.jest]   Jest settings for the mutation runs only (e.g. a narrower testMatch)
 */
function mutationConfig({ project, dir, mutate, breakAt, jest = {} }) {
  if (path.relative(ROOT, dir).split(path.sep).length !== 3) {
    throw new Error(`${project}: the sandbox depth only matches projects three levels below the root, not ${path.relative(ROOT, dir)}`);
  }
  const out = (file) => path.relative(dir, path.join(ROOT, 'tmp', 'mutation', project, file));
  return {
    testRunner: 'jest',
    jest: { configFile: 'jest.config.js', enableFindRelatedTests: true, config: jest },
    coverageAnalysis: 'perTest',
    mutate,
    concurrency: 1,
    // Generous: on a loaded machine a test run can take seconds longer than its dry run, and a
    // run cut off by the timeout would count as a kill. Endless loops are caught by Stryker's
    // hit limit instead.
    timeoutMS: 30_000,
    tempDirName: path.relative(dir, path.join(ROOT, 'tmp', `stryker-${project}`)),
    cleanTempDir: 'always',
    reporters: ['clear-text', 'progress', 'html', 'json'],
    htmlReporter: { fileName: out('index.html') },
    jsonReporter: { fileName: out('report.json') },
    thresholds: { high: 95, low: 90, break: breakAt },
  };
}

module.exports = { mutationConfig };
