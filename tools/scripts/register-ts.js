// Registers the SWC require hook with the workspace's .swcrc-equivalent settings, so any
// TypeScript entry point (CLI, apps in dev) runs without a prior build.
'use strict';
const path = require('node:path');
process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', '..', 'tsconfig.base.json');
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
require('@swc-node/register');
