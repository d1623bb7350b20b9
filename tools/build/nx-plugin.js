// Nx plugin (plain CommonJS, no build): gives every deployable a `build` target, so a new app
// needs no wiring. A project is deployable when its package.json `nx.tags` holds one of
// `options.tags` (default: type:app) or its Nx name is in `options.projects` (carve-cli: the
// relay and Kafka-topics image). The target runs tools/build (compile with SWC into
// dist/<root>/, runtime package.json, pruned lockfile); nx.json targetDefaults.build adds the
// caching rules.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function readPackage(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const createNodes = [
  '{apps,tools}/*/package.json',
  (files, options, context) => {
    const tags = (options && options.tags) || ['type:app'];
    const projects = (options && options.projects) || [];
    const results = [];
    for (const file of files) {
      const pkg = readPackage(path.join(context.workspaceRoot, file));
      const nx = (pkg && pkg.nx) || {};
      const name = nx.name;
      if (!name) continue;
      const deployable = projects.includes(name) || (nx.tags || []).some((t) => tags.includes(t));
      if (!deployable) continue;
      const root = path.dirname(file);
      results.push([
        file,
        {
          projects: {
            [root]: {
              targets: {
                build: {
                  executor: 'nx:run-commands',
                  options: { command: `node tools/build/bin/carve-build.js build ${name}`, cwd: '{workspaceRoot}' },
                  cache: true,
                  inputs: [
                    'production',
                    '^production',
                    '{workspaceRoot}/package.json',
                    '{workspaceRoot}/package-lock.json',
                    '{workspaceRoot}/tools/build/src/**/*',
                  ],
                  outputs: ['{workspaceRoot}/dist/{projectRoot}'],
                  metadata: { description: 'Compile to plain JavaScript in dist/<root>/ with the runtime package.json (tools/build)' },
                },
              },
            },
          },
        },
      ]);
    }
    return results;
  },
];

module.exports = { name: 'carve-build', createNodesV2: createNodes, createNodes };
