/**
 * The carvable contexts the console shows: every descriptor registered with
 * @carve/shared-carving in this process, after loading the carving libraries, the packages whose
 * package.json says `"carve": { "carvableContext": "<name>" }`. They are required by path at run
 * time: the gateway's code imports no context. From the sources they are found under the
 * workspace's libs/ (as the CLI discovers them); compiled (the build output, the image) under the
 * node_modules/@carve/ folders Node resolves from here, where the gateway's build ships every
 * carving library (its implicit dependency on `*-carving`). A context none of them describes is
 * shown with only its stage from the control plane.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type CarvableContext, carvableContexts, findCarvableContext } from '@carve/shared-carving';
import type { Logger } from '@carve/shared-http';

/** Running compiled (the build output, the image): the carving libraries are the ones the build shipped, even inside a checkout. */
const COMPILED = path.extname(__filename) === '.js';

/** The workspace root above this file (the folder with nx.json), if any. */
function workspaceRoot(): string | null {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'nx.json')) && fs.existsSync(path.join(dir, 'libs'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Package folders that may hold a carving library: libs/<scope>/<lib> of the workspace, else node_modules/@carve/<lib>. */
function candidateDirs(root: string | null): string[] {
  const children = (dir: string): string[] =>
    fs.existsSync(dir) ? fs.readdirSync(dir).map((d) => path.join(dir, d)).filter((d) => fs.statSync(d).isDirectory()) : [];
  if (root !== null) return children(path.join(root, 'libs')).flatMap(children);
  const seen = new Set<string>();
  return (require.resolve.paths('@carve/shared-carving') ?? [])
    .flatMap((nodeModules) => children(path.join(nodeModules, '@carve')))
    .filter((dir) => !seen.has(path.basename(dir)) && seen.add(path.basename(dir)));
}

let discovered = false;

/** Loads the carving libraries of the workspace, or those shipped beside the compiled gateway (once per process). */
export function discoverContexts(log: Logger, root = COMPILED ? null : workspaceRoot()): void {
  if (discovered) return;
  discovered = true;
  for (const dir of candidateDirs(root)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    let pkg: { name?: string; carve?: { carvableContext?: string } };
    try {
      pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    const name = pkg.carve?.carvableContext;
    if (!name || findCarvableContext(name)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by discovery, for its side effect (it registers)
      require(dir);
    } catch (err) {
      log.warn({ err: (err as Error).message, lib: pkg.name }, 'console: could not load a carving library');
    }
  }
}

export function consoleContexts(log: Logger): CarvableContext[] {
  discoverContexts(log);
  return carvableContexts();
}

export function consoleContext(log: Logger, name: string): CarvableContext | undefined {
  discoverContexts(log);
  return findCarvableContext(name);
}
