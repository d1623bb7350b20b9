/**
 * `nx g @carve/nx-plugin:context <name> --framework fastify|nest --aggregates a,b`: a new bounded
 * context, carved out of the monolith, wired and passing from the first run.
 *
 * Everything is checked first (normalizeOptions: name, framework, aggregates, port), then written
 * to Nx's Tree, which only reaches the disk when the generator returns without an error: a bad
 * name or an aggregate another context carves leaves the workspace untouched. After the files
 * are written, the callback links the new workspace packages into node_modules/@carve (what
 * `npm install` does for workspaces; package-lock.json is already updated by the generator).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateFiles, type GeneratorCallback, logger, type Tree } from '@nx/devkit';
import { addChart, addDockerfile } from './chart';
import { type ContextOptions, normalizeOptions } from './options';
import type { ContextGeneratorSchema } from './schema';
import {
  addBoundaryRule,
  addChartCatalogueEntry,
  addCliContextImport,
  addDeployedRoutes,
  addDevDeployable,
  addGatewayDeployDependency,
  addReviewSecret,
  addRoutes,
  addTopics,
  addToDeployOrder,
  addWorkspacesToLockfile,
} from './wiring';

export { ContextGeneratorError } from './options';

export interface GeneratedContext {
  options: ContextOptions;
  /** The Nx projects the generator created. */
  projects: string[];
  /** The workspace packages (root, npm name) to link. */
  packages: Array<{ root: string; name: string }>;
  chart: 'created' | 'adopted';
}

/** The generator's work on the tree, without the post-write callback (tests use it on a scratch Tree). */
export function writeContext(tree: Tree, schema: ContextGeneratorSchema, now = Date.now()): GeneratedContext {
  const o = normalizeOptions(tree, schema);
  const vars = {
    ...o,
    frameworkLabel: o.framework === 'nest' ? 'NestJS on the Fastify adapter' : 'Fastify 5',
    timestamp: String(now),
    // The write fence's migration runs after the initial schema (migrations sort by timestamp).
    fenceTimestamp: String(now + 1),
    tmpl: '',
  };

  generateFiles(tree, path.join(__dirname, 'files'), '.', vars);
  generateFiles(tree, path.join(__dirname, 'files-app', 'common'), o.appRoot, vars);
  generateFiles(tree, path.join(__dirname, 'files-app', o.framework), o.appRoot, vars);

  addRoutes(tree, o);
  addDeployedRoutes(tree, o);
  addTopics(tree, o);
  addDevDeployable(tree, o);
  addBoundaryRule(tree, o);
  addChartCatalogueEntry(tree, o);
  addToDeployOrder(tree, o);
  addGatewayDeployDependency(tree, o);
  addReviewSecret(tree, o);
  const chart = addChart(tree, o);
  addDockerfile(tree, o);
  addCliContextImport(tree, o);

  const libs = ['domain', 'events', 'data-access', 'carving'];
  const packages = [
    { root: o.appRoot, name: `@carve/${o.service}` },
    ...libs.map((l) => ({ root: `${o.libsRoot}/${l}`, name: `@carve/${o.name}-${l}` })),
  ];
  addWorkspacesToLockfile(tree, packages);
  return { options: o, projects: [o.service, ...libs.map((l) => `${o.name}-${l}`)], packages, chart };
}

/** Links `node_modules/<name>` → the package folder, as npm does for a workspace (relative symlinks). */
export function linkWorkspacePackages(root: string, packages: Array<{ root: string; name: string }>): string[] {
  const linked: string[] = [];
  for (const p of packages) {
    const link = path.join(root, 'node_modules', ...p.name.split('/'));
    if (fs.existsSync(link)) continue;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), path.join(root, p.root)), link, 'dir');
    linked.push(p.name);
  }
  return linked;
}

export async function contextGenerator(tree: Tree, schema: ContextGeneratorSchema): Promise<GeneratorCallback> {
  const generated = writeContext(tree, schema);
  const { options: o } = generated;
  return () => {
    if (!o.skipInstall) {
      const linked = linkWorkspacePackages(tree.root, generated.packages);
      if (linked.length) logger.info(`linked ${linked.join(', ')} into node_modules (as npm install would)`);
    }
    logger.info(
      [
        '',
        `Context ${o.name} generated: ${o.appRoot} (${o.framework}, port ${o.port}), ${o.libsRoot}/{domain,events,data-access,carving}, charts/${o.service} (${generated.chart}).`,
        `Schema ${o.schema}; forward sync of ${o.aggregates.map((a) => a.legacyTopic).join(', ')}; its own topics ${o.aggregates.map((a) => a.ownTopic).join(', ')}.`,
        'Next:',
        `  npx nx run-many -t lint test build --projects=${generated.projects.join(',')}`,
        `  npx carve status ${o.name}`,
        o.skipInstall ? '  npm install            (links the new workspace packages into node_modules; package-lock.json is already updated)' : '',
        '  docs/runbooks/carving-a-context.md, "Starting a new context with the generator"',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  };
}

export default contextGenerator;
