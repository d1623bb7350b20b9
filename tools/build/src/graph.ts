import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProjectGraph } from '@nx/devkit';
import { BuildToolError } from './errors';
import { WORKSPACE_ROOT } from './paths';

/** What the builder needs to know about one Nx project. */
export interface WorkspaceProject {
  name: string;
  root: string;
  tags: string[];
  /** npm package name from the project's package.json (`@carve/<name>`), when it has one. */
  packageName?: string;
  /** Names of the workspace projects this one depends on in the Nx graph (static, dynamic or implicit). */
  dependencies: string[];
  /** The context a carving library describes: its package.json's `"carve": { "carvableContext": "<name>" }`. */
  carvableContext?: string;
}

export interface Workspace {
  root: string;
  projects: Map<string, WorkspaceProject>;
  byPackageName: Map<string, WorkspaceProject>;
}

/** Reads the Nx project graph (computed, or cached by the daemon / the run that invoked us). */
export async function loadWorkspace(root: string = WORKSPACE_ROOT): Promise<Workspace> {
  let graph: ProjectGraph;
  // Compute the graph in this process: never leave an Nx daemon behind from a build or a test.
  process.env.NX_DAEMON ??= 'false';
  try {
    // @nx/devkit finds the workspace from the current directory.
    const devkit = await import('@nx/devkit');
    const cwd = process.cwd();
    if (path.resolve(cwd) !== path.resolve(root)) process.chdir(root);
    try {
      graph = await devkit.createProjectGraphAsync({ exitOnError: false });
    } finally {
      if (process.cwd() !== cwd) process.chdir(cwd);
    }
  } catch (err) {
    throw new BuildToolError(`the Nx project graph could not be computed: ${(err as Error).message.split('\n')[0]}`, 'run `npx nx show projects` to see what Nx reports');
  }
  return workspaceFromGraph(graph, root);
}

export function workspaceFromGraph(graph: ProjectGraph, root: string = WORKSPACE_ROOT): Workspace {
  const projects = new Map<string, WorkspaceProject>();
  const byPackageName = new Map<string, WorkspaceProject>();
  for (const [name, node] of Object.entries(graph.nodes)) {
    const projectRoot = node.data.root;
    const pkgFile = path.join(root, projectRoot, 'package.json');
    const pkg = fs.existsSync(pkgFile) ? (JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { name?: string; carve?: { carvableContext?: string } }) : {};
    const packageName = pkg.name;
    const dependencies = (graph.dependencies[name] ?? []).map((d) => d.target).filter((t) => t in graph.nodes);
    const project: WorkspaceProject = { name, root: projectRoot, tags: node.data.tags ?? [], packageName, dependencies };
    if (pkg.carve?.carvableContext) project.carvableContext = pkg.carve.carvableContext;
    projects.set(name, project);
    if (packageName) byPackageName.set(packageName, project);
  }
  return { root, projects, byPackageName };
}

/** Every project reachable from `name` through the graph's dependencies (not including itself). */
export function dependencyClosure(ws: Workspace, name: string): Set<string> {
  const seen = new Set<string>();
  const queue = [...(ws.projects.get(name)?.dependencies ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next) || next === name) continue;
    seen.add(next);
    queue.push(...(ws.projects.get(next)?.dependencies ?? []));
  }
  return seen;
}

/** Tag of a web UI project: static files built by its own `build` target into dist/<root>/. */
export const UI_TAG = 'type:ui';

/**
 * The web UIs a deployable bundles: the `type:ui` projects it depends on in the Nx graph (the
 * gateway's implicit dependency on the console). Their `build` runs first (`^build`), and the
 * deployable's build copies the output next to its compiled code.
 */
export function bundledUis(ws: Workspace, name: string): WorkspaceProject[] {
  return (ws.projects.get(name)?.dependencies ?? [])
    .map((d) => ws.projects.get(d))
    .filter((p): p is WorkspaceProject => p !== undefined && p.tags.includes(UI_TAG))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The carving libraries a deployable ships although its code imports none: the projects with a
 * `carvableContext` it depends on directly in the Nx graph (the gateway's implicit dependency on
 * `*-carving`). The gateway loads them at run time by discovery, for the console's stage actions.
 */
export function carvingLibraries(ws: Workspace, name: string): WorkspaceProject[] {
  return (ws.projects.get(name)?.dependencies ?? [])
    .map((d) => ws.projects.get(d))
    .filter((p): p is WorkspaceProject => p !== undefined && p.carvableContext !== undefined && p.packageName !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Where a bundled UI lands in its deployable's build output (and in the image, under /app): <root>/<UI folder name>. */
export function bundleDir(deployable: Pick<WorkspaceProject, 'root'>, ui: Pick<WorkspaceProject, 'root'>): string {
  return `${deployable.root}/${ui.root.split('/').pop()}`;
}

export function projectOrThrow(ws: Workspace, name: string): WorkspaceProject {
  const project = ws.projects.get(name);
  if (!project) {
    throw new BuildToolError(`no Nx project named ${name}`, `projects: ${[...ws.projects.keys()].sort().join(', ')}`);
  }
  return project;
}
