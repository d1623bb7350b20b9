#!/usr/bin/env node
// Runs the TypeScript sources directly through SWC, so the chart targets (helm-lint, render)
// work on a fresh clone without a build step.
'use strict';
const path = require('node:path');
require('../../scripts/register-ts');
require(path.join(__dirname, '..', 'src', 'cli.ts')).main();
