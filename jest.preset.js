// Shared Jest settings: TypeScript through SWC (with decorator metadata for Nest),
// Node environment. Each project's jest.config.js spreads this.
const fs = require('node:fs');
const path = require('node:path');
const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { ...swcrc, swcrc: false, sourceMaps: 'inline' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/?(*.)+(spec|test).ts'],
  // tools/carve/test/module-boundaries.spec.ts writes short-lived lint probes
  // (src/__boundary_probe_*.spec.ts) into real projects: a test run of such a project beside it
  // must not collect one and then find it gone.
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/__boundary_probe_'],
  reporters: ['default', path.join(__dirname, 'tools/scripts/jest-summary-reporter.js')],
};
