/**
 * The dependency rules of docs/architecture.md are enforced by @nx/enforce-module-boundaries.
 * This test proves it: it drops a file with a forbidden import into a real project, lints it
 * with the workspace's ESLint config, and expects the rule to fail it (and an allowed import
 * to pass). Each file is removed as soon as it has been linted.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(__dirname, '../../..');

interface Case {
  name: string;
  project: string; // folder of an existing project
  source: string;
  forbidden: boolean;
  message?: RegExp;
}

const CASES: Case[] = [
  {
    name: 'a util lib importing a data-access lib',
    project: 'libs/shared/http',
    source: "import * as persistence from '@carve/shared-persistence';\nexport const x = persistence;\n",
    forbidden: true,
    message: /tagged with "type:util" can only depend on libs tagged with "type:util", "type:contracts"/,
  },
  {
    name: 'a shared lib importing another shared util',
    project: 'libs/shared/http',
    source: "import { env } from '@carve/shared-config';\nexport const x = env;\n",
    forbidden: false,
  },
  {
    name: 'a service importing the monolith',
    project: 'apps/insights-service',
    source: "import { bootstrap } from '@carve/legacy-monolith';\nexport const x = bootstrap;\n",
    forbidden: true,
    message: /can only depend on libs tagged with/,
  },
  {
    name: 'a domain lib importing a framework',
    project: 'libs/legacy/domain',
    source: "import { Injectable } from '@nestjs/common';\nexport const x = Injectable;\n",
    forbidden: true,
    message: /imports? .*@nestjs\/common.*banned|banned.*@nestjs\/common|is not allowed to import/i,
  },
  {
    name: 'the monolith importing a service',
    project: 'apps/legacy-monolith',
    source: "import * as svc from '@carve/insights-service';\nexport const x = svc;\n",
    forbidden: true,
    message: /can only depend on libs tagged with/,
  },
  {
    name: 'the monolith importing another context\'s contracts',
    project: 'apps/legacy-monolith',
    source: "import * as c from '@carve/insights-events';\nexport const x = c;\n",
    forbidden: false,
  },
  {
    name: 'a service importing the monolith\'s domain code',
    project: 'apps/insights-service',
    source: "import * as d from '@carve/legacy-domain';\nexport const x = d;\n",
    forbidden: true,
    message: /scope:insights" can only depend on libs tagged with/,
  },
  {
    name: 'a domain lib importing the ORM',
    project: 'libs/legacy/domain',
    source: "import { Entity } from 'typeorm';\nexport const x = Entity;\n",
    forbidden: true,
    message: /typeorm/,
  },
  {
    name: "a context's domain importing the shared kernel",
    project: 'libs/roadmaps/domain',
    source: "import { validate } from '@carve/shared-kernel';\nexport const x = validate;\n",
    forbidden: false,
  },
  {
    name: 'the shared kernel importing a framework',
    project: 'libs/shared/kernel',
    source: "import fastify from 'fastify';\nexport const x = fastify;\n",
    forbidden: true,
    message: /fastify/,
  },
  {
    name: 'the shared kernel importing a context (even its contracts)',
    project: 'libs/shared/kernel',
    source: "import * as c from '@carve/legacy-events';\nexport const x = c;\n",
    forbidden: true,
    message: /scope:shared" can only depend on libs tagged with/,
  },
  {
    // The gateway's build ships the carving libraries (its implicit dependency on `*-carving`) and
    // its console loads them by discovery at run time; its code still imports none.
    name: 'the gateway importing a carving library',
    project: 'apps/gateway',
    source: "import * as c from '@carve/insights-carving';\nexport const x = c;\n",
    forbidden: true,
    message: /scope:gateway" can only depend on libs tagged with/,
  },
];

const present = CASES;

describe('module boundaries', () => {
  // The real ESLint CLI in a child process, as `nx lint` would run it.
  const lint = (file: string): Array<{ ruleId: string | null; message: string }> => {
    const run = spawnSync(process.execPath, [path.join(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', file], { cwd: root, encoding: 'utf8' });
    const json = run.stdout.slice(run.stdout.indexOf('['));
    if (!json) throw new Error(`eslint did not run: ${run.stderr}`);
    if (/No cached ProjectGraph/.test(run.stdout + run.stderr)) throw new Error('the boundary rule was skipped: no cached project graph');
    return JSON.parse(json)[0].messages;
  };

  beforeAll(() => {
    // The rule reads Nx's cached project graph (as it exists under `nx lint`): compute it first.
    const nx = spawnSync(process.execPath, [path.join(root, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' },
    });
    if (nx.status !== 0) throw new Error(`nx could not compute the project graph: ${nx.stderr}`);
  }, 120_000);
  const written: string[] = [];
  afterAll(() => written.forEach((f) => rmSync(f, { force: true })));

  it('has the projects the rules are proven on', () => {
    for (const c of CASES) expect(existsSync(path.join(root, c.project, 'package.json'))).toBe(true);
  });

  it.each(present.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    // A .spec.ts name: the build (tools/build) never compiles it, so a build of the same project
    // running beside this test does not see it; and Jest's preset ignores `__boundary_probe_`
    // paths, so a test run of that project does not collect it. One probe at a time, removed at once: two probes
    // importing each other's projects would make a cycle and change the rule's message.
    const file = path.join(root, c.project, 'src', `__boundary_probe_${process.pid}_${i}.spec.ts`);
    writeFileSync(file, c.source);
    written.push(file);
    let messages: ReturnType<typeof lint>;
    try {
      messages = lint(file);
    } finally {
      rmSync(file, { force: true });
    }
    const boundary = messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries');
    if (c.forbidden) {
      expect(boundary.length).toBeGreaterThan(0);
      if (c.message) expect(boundary.map((m) => m.message).join('\n')).toMatch(c.message);
    } else {
      expect(boundary).toEqual([]);
    }
  }, 60_000);
});
