/**
 * The carvable contexts the console shows: every descriptor registered with
 * @carve/shared-carving in this process, after loading the workspace's carving libraries, the
 * packages under libs/ whose package.json says `"carve": { "carvableContext": "<name>" }` (as
 * the CLI discovers them). They are required by path at run time: the gateway's code imports no
 * context. A gateway without the workspace beside it (an image) knows none, and the console shows
 * the contexts the control plane has a stage of, without their routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type CarvableContext, carvableContexts, findCarvableContext } from '@carve/shared-carving';
import type { Logger } from '@carve/shared-http';

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

let discovered = false;

/** Loads the carving libraries of the workspace (once per process). */
export function discoverContexts(log: Logger, root = workspaceRoot()): void {
  if (discovered || root === null) return;
  discovered = true;
  const libs = path.join(root, 'libs');
  for (const scope of fs.readdirSync(libs)) {
    const dir = path.join(libs, scope);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const lib of fs.readdirSync(dir)) {
      const file = path.join(dir, lib, 'package.json');
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
        require(path.join(dir, lib));
      } catch (err) {
        log.warn({ err: (err as Error).message, lib: pkg.name }, 'console: could not load a carving library');
      }
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
