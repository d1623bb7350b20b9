#!/usr/bin/env node
// Runs the builder from its TypeScript sources (SWC require hook): the builder itself needs no
// build. What it produces runs with plain `node`.
'use strict';
const path = require('node:path');
require('../../scripts/register-ts');
require(path.join(__dirname, '..', 'src', 'cli.ts')).main();
