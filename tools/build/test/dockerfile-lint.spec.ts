import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEPLOYABLE_CHARTS } from '@carve/helm-tools';
import { parse as parseYaml } from 'yaml';
import {
  buildProject,
  bundledUis,
  commandProblem,
  commandTarget,
  dockerfilePath,
  type DockerfileIssue,
  formatIssues,
  IMAGE_UID,
  imageProjects,
  isGenerated,
  isIgnored,
  lintDockerfileText,
  loadWorkspace,
  NODE_LTS_MAJOR,
  parseDockerfile,
  parseDockerignore,
  readDockerignore,
  renderAppDockerfile,
  WORKSPACE_ROOT,
  type Workspace,
} from '../src';
import { buildUi, scratchContext } from './support';

let ws: Workspace;
let images: string[];
const ctx = scratchContext('dockerfile');
beforeAll(async () => {
  ws = await loadWorkspace();
  images = imageProjects(ws);
  // Build every project that has an image into the scratch context (the web UIs they bundle
  // first): the Dockerfiles are checked against that output.
  for (const name of images) {
    for (const ui of bundledUis(ws, name)) buildUi(ui.root, ctx.distDir);
    await buildProject(name, { workspace: ws, distDir: ctx.distDir });
  }
});
afterAll(() => ctx.cleanup());

const read = (rel: string): string => fs.readFileSync(path.join(WORKSPACE_ROOT, rel), 'utf8');
const rules = (issues: DockerfileIssue[]): string[] => issues.map((i) => i.rule);

describe('the Dockerfiles of the workspace', () => {
  it('exist for the monolith, the gateway and the carve CLI (relay), and the build knows each of them', () => {
    expect(images).toEqual(expect.arrayContaining(['carve-cli', 'gateway', 'legacy-monolith']));
  });

  it('exist for every app whose chart deploys it (the chart\'s project.json lists the app)', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      const project = JSON.parse(read(`charts/${c.chart}/project.json`));
      if (!project.implicitDependencies.includes(c.app)) continue; // not landed yet: its deploy target skips it
      const hint = `no Dockerfile for ${c.app}: run node tools/build/bin/carve-build.js dockerfile ${c.app} --write`;
      expect({ app: c.app, image: images.includes(c.app) ? 'ok' : hint }).toEqual({ app: c.app, image: 'ok' });
    }
  });

  it('pass every rule, checked against a fresh build output (copied files and the CMD exist)', () => {
    for (const name of images) {
      const project = ws.projects.get(name)!;
      const rel = path.relative(WORKSPACE_ROOT, dockerfilePath(project));
      const issues = lintDockerfileText(read(rel), { contextDir: ctx.dir, buildOutput: `dist/${project.root}`, checkBuild: true });
      if (issues.length > 0) throw new Error(formatIssues(rel, issues));
    }
  });

  it('app images are generated from tools/build/templates/app.Dockerfile and in step with it', () => {
    for (const name of images.filter((n) => ws.projects.get(n)!.tags.includes('type:app'))) {
      const project = ws.projects.get(name)!;
      expect(isGenerated(dockerfilePath(project))).toBe(true);
      expect({ name, text: fs.readFileSync(dockerfilePath(project), 'utf8') }).toEqual({ name, text: renderAppDockerfile(project, undefined, bundledUis(ws, name)) });
    }
  });

  it('run every command the charts give them: app, migrations init container, relay and Kafka topics hook', () => {
    const checked: string[] = [];
    const commandsOf = (chart: string): Array<{ what: string; project: string; argv: string[] }> => {
      const values = parseYaml(read(`charts/${chart}/values.yaml`));
      const app = DEPLOYABLE_CHARTS.find((c) => c.chart === chart)!.app;
      const out = [{ what: `${chart} command`, project: app, argv: values.command as string[] }];
      if (values.migrations?.enabled) out.push({ what: `${chart} migrations.command`, project: app, argv: values.migrations.command });
      if (values.kafkaTopics) out.push({ what: `${chart} kafkaTopics.command`, project: 'carve-cli', argv: values.kafkaTopics.command });
      return out;
    };
    for (const c of DEPLOYABLE_CHARTS) {
      for (const { what, project, argv } of commandsOf(c.chart)) {
        if (!images.includes(project)) continue; // an app that has not landed has no image yet
        const root = ws.projects.get(project)!.root;
        const df = parseDockerfile(read(`${root}/Dockerfile`));
        const problem = commandProblem(commandTarget(df, argv, ctx.dir), ctx.dir, argv);
        expect({ what, problem }).toEqual({ what, problem: undefined });
        checked.push(what);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['relay command', 'gateway kafkaTopics.command', 'legacy-monolith command', 'legacy-monolith migrations.command', 'gateway command']));
  });

  it('expose the chart\'s port and run as the UID the charts\' securityContext expects', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      if (!images.includes(c.app)) continue;
      const text = read(`${ws.projects.get(c.app)!.root}/Dockerfile`);
      expect({ chart: c.chart, expose: /^EXPOSE (\d+)/m.exec(text)?.[1] }).toEqual({ chart: c.chart, expose: String(c.port) });
      const values = parseYaml(read(`charts/${c.chart}/values.yaml`));
      expect({ chart: c.chart, ...values.securityContext }).toEqual({ chart: c.chart, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID });
    }
  });

  it('.dockerignore keeps everything but the build output out of the context', () => {
    const ignore = readDockerignore(WORKSPACE_ROOT);
    for (const p of ['apps/gateway/src/main.ts', 'package.json', '.git/config', 'node_modules/fastify/package.json', '.env', 'dist/charts/gateway/staging.yaml', 'libs/shared/config/src/index.ts']) {
      expect({ p, ignored: isIgnored(p, ignore) }).toEqual({ p, ignored: true });
    }
    for (const p of ['dist/apps/gateway/package.json', 'dist/apps/gateway/node_modules/@carve/shared-http/src/index.js', 'dist/tools/carve/tools/carve/bin/carve.js']) {
      expect({ p, ignored: isIgnored(p, ignore) }).toEqual({ p, ignored: false });
    }
    expect(isIgnored('dist/apps/gateway/apps/gateway/dist/x.spec.js', ignore)).toBe(true);
    expect(isIgnored('dist/apps/gateway/node_modules/@carve/x/test/a.js', ignore)).toBe(true);
  });
});

describe('each rule catches what it is for', () => {
  // A good Dockerfile, then one mistake at a time.
  const good = renderAppDockerfile({ name: 'gateway', root: 'apps/gateway' }, 8080);
  const lint = (text: string): DockerfileIssue[] => lintDockerfileText(text, { contextDir: ctx.dir, buildOutput: 'dist/apps/gateway', checkBuild: true });
  const bad = (from: string | RegExp, to: string): string => {
    const out = good.replace(from, to);
    if (out === good) throw new Error(`the mutation ${from} changed nothing`);
    return out;
  };

  it('the good one passes', () => {
    expect(lint(good)).toEqual([]);
  });

  it('multi-stage: a single stage that installs and runs', () => {
    const single = [
      `FROM node:${NODE_LTS_MAJOR}-bookworm-slim@sha256:${'a'.repeat(64)}`,
      'WORKDIR /app',
      'ENV NODE_ENV=production',
      'COPY dist/apps/gateway/package.json dist/apps/gateway/package-lock.json ./',
      'RUN npm ci --omit=dev',
      'COPY dist/apps/gateway/apps ./apps',
      `USER ${IMAGE_UID}:${IMAGE_UID}`,
      'CMD ["node", "apps/gateway/dist/main.js"]',
    ].join('\n');
    expect(rules(lint(single))).toEqual(expect.arrayContaining(['multi-stage', 'prod-deps']));
  });

  it('base-image: no tag, :latest, another major, a non-slim variant, no digest', () => {
    const digest = '@sha256:' + 'a'.repeat(64);
    expect(lint(bad(/FROM node:24-bookworm-slim@\S+ AS deps/, 'FROM node AS deps')).map((i) => i.message)).toEqual([expect.stringContaining('has no tag')]);
    expect(lint(bad(/FROM node:24-bookworm-slim@\S+ AS runtime/, 'FROM node:latest AS runtime')).map((i) => i.message)).toEqual([expect.stringContaining(':latest')]);
    expect(rules(lint(bad(/FROM node:24-bookworm-slim@\S+ AS runtime/, `FROM node:22-bookworm-slim${digest} AS runtime`)))).toEqual(['base-image']);
    expect(rules(lint(bad(/FROM node:24-bookworm-slim@\S+ AS runtime/, `FROM node:24-bookworm${digest} AS runtime`)))).toEqual(['base-image']);
    expect(lint(bad(/FROM node:24-bookworm-slim@\S+ AS runtime/, 'FROM node:24-bookworm-slim AS runtime')).map((i) => i.message)).toEqual([expect.stringContaining('is not pinned by digest')]);
    expect(lint(bad(/FROM node:24-bookworm-slim@\S+ AS runtime/, `FROM node:24.11.1-bookworm-slim${digest} AS runtime`))).toEqual([]);
    // The template pins both stages by digest.
    expect(good.match(/^FROM node:24-bookworm-slim@sha256:[a-f0-9]{64} AS \w+$/gm)).toHaveLength(2);
  });

  it('user: no USER, root, a name instead of the UID', () => {
    expect(lint(bad(/USER 10001:10001\n/, '')).map((i) => i.message)).toEqual([expect.stringContaining('would run as root')]);
    expect(rules(lint(bad(/USER 10001:10001/, 'USER root')))).toEqual(['user']);
    expect(rules(lint(bad(/USER 10001:10001/, 'USER 0')))).toEqual(['user']);
    expect(lint(bad(/USER 10001:10001/, 'USER node')).map((i) => i.message)).toEqual([expect.stringContaining(`numeric UID ${IMAGE_UID}`)]);
  });

  it('no-remote-add and prefer-copy: ADD of a URL, ADD at all', () => {
    expect(rules(lint(bad(/USER 10001/, 'ADD https://example.com/tool.tgz /opt/\nUSER 10001')))).toEqual(['no-remote-add']);
    expect(rules(lint(bad(/USER 10001/, 'ADD dist/apps/gateway/package.json /app/\nUSER 10001')))).toEqual(['prefer-copy']);
  });

  it('no-secrets: a secret-looking ENV or ARG, a URL with a password', () => {
    expect(rules(lint(bad(/ENV NODE_ENV=production \\/, 'ENV CARVE_JWT_SECRET=abc NODE_ENV=production \\')))).toEqual(['no-secrets']);
    expect(rules(lint(bad(/WORKDIR \/app\nENV NODE_ENV=production\n/, 'WORKDIR /app\nARG NPM_TOKEN\nENV NODE_ENV=production\n')))).toEqual(['no-secrets']);
    expect(rules(lint(bad(/ENV NODE_ENV=production \\/, 'ENV UPSTREAM=postgres://app:hunter2@db/carve NODE_ENV=production \\')))).toEqual(['no-secrets']);
  });

  it('node-env: the final stage without NODE_ENV=production', () => {
    expect(rules(lint(bad(/ENV NODE_ENV=production \\\n    NODE_OPTIONS/, 'ENV NODE_OPTIONS')))).toEqual(['node-env']);
  });

  it('prod-deps: npm install, npm ci with dev dependencies', () => {
    expect(rules(lint(bad('npm ci --omit=dev', 'npm install --omit=dev')))).toEqual(expect.arrayContaining(['prod-deps']));
    expect(rules(lint(bad('npm ci --omit=dev', 'npm ci')))).toEqual(['prod-deps']);
  });

  it('context-sources: sources, the whole repository, a file the build does not make, a path .dockerignore drops', () => {
    expect(rules(lint(bad('COPY dist/apps/gateway/apps ./apps', 'COPY apps/gateway/src ./apps/gateway/src')))).toEqual(expect.arrayContaining(['context-sources']));
    expect(rules(lint(bad('COPY dist/apps/gateway/apps ./apps', 'COPY . .')))).toEqual(expect.arrayContaining(['context-sources']));
    expect(lint(bad('COPY dist/apps/gateway/package.json ./package.json', 'COPY dist/apps/gateway/runtime.json ./package.json')).map((i) => i.message)).toEqual([
      expect.stringContaining('not in the build output'),
    ]);
    const ignoreAll = parseDockerignore('*\n!dist/apps/\ndist/apps/gateway/node_modules/\n');
    const issues = lintDockerfileText(good, { contextDir: ctx.dir, buildOutput: 'dist/apps/gateway', checkBuild: true, dockerignore: ignoreAll });
    expect(issues.map((i) => i.message)).toEqual([expect.stringContaining('.dockerignore leaves it out')]);
  });

  it('stage-ref: COPY --from a stage that does not exist', () => {
    expect(rules(lint(bad('COPY --from=deps /app/node_modules', 'COPY --from=builder /app/node_modules')))).toEqual(expect.arrayContaining(['stage-ref']));
  });

  it('cmd: shell form, npm start, a script the build does not produce', () => {
    expect(rules(lint(bad('CMD ["node", "apps/gateway/dist/main.js"]', 'CMD node apps/gateway/dist/main.js')))).toEqual(['cmd']);
    expect(rules(lint(bad('CMD ["node", "apps/gateway/dist/main.js"]', 'CMD ["npm", "start"]')))).toEqual(['cmd']);
    expect(lint(bad('CMD ["node", "apps/gateway/dist/main.js"]', 'CMD ["node", "apps/gateway/dist/server.js"]')).map((i) => i.message)).toEqual([
      expect.stringContaining('which the build did not produce'),
    ]);
    expect(lint(bad('CMD ["node", "apps/gateway/dist/main.js"]', 'CMD ["node", "/srv/main.js"]')).map((i) => i.message)).toEqual([
      expect.stringContaining('which no COPY puts into the image'),
    ]);
  });

  it('bundles: an image that copies the compiled gateway but leaves its console behind', () => {
    expect(lint(bad('COPY dist/apps/gateway/apps ./apps', 'COPY dist/apps/gateway/apps/gateway/dist ./apps/gateway/dist')).map((i) => `${i.rule}: ${i.message}`)).toEqual([
      expect.stringMatching(/^bundles: console \(bundled in dist\/apps\/gateway\/apps\/gateway\/console\/\) is not copied to \/app\/apps\/gateway\/console\//),
    ]);
  });

  it('no-dev-files: a copied tree with TypeScript or tests in it', () => {
    const leak = path.join(ctx.distDir, 'apps/gateway/apps/gateway/dist/leak.spec.js');
    fs.writeFileSync(leak, '');
    try {
      expect(rules(lint(good))).toEqual([]); // .dockerignore drops *.spec.js from the context
      const issues = lintDockerfileText(good, { contextDir: ctx.dir, buildOutput: 'dist/apps/gateway', checkBuild: true, dockerignore: parseDockerignore('*\n!dist/\n') });
      expect(rules(issues)).toEqual(['no-dev-files']);
    } finally {
      fs.rmSync(leak);
    }
  });
});
