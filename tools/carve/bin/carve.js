#!/usr/bin/env node
// Runs the TypeScript sources directly through SWC (decorator metadata on), so `npx carve`
// works on a fresh clone without a build step.
'use strict';
const path = require('node:path');
require('../../scripts/register-ts');
require(path.join(__dirname, '..', 'src', 'main.ts'));
