#!/usr/bin/env node
// Runs the TypeScript sources directly, so `npx carve` works on a fresh clone without a build
// step: each file is compiled once with SWC (decorator metadata on) and kept in
// node_modules/.cache/carve-ts, so later runs load JavaScript and no compiler.
'use strict';
const path = require('node:path');
require('../../scripts/ts-cache');
require(path.join(__dirname, '..', 'src', 'main.ts'));
