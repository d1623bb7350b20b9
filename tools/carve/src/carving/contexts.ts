/**
 * The carvable contexts the CLI knows: every descriptor that registered itself with
 * @carve/shared-carving. Two ways in, so a new context needs no change to the CLI's logic:
 *
 * 1. the imports below (what the build and the Nx graph see; the context generator adds one
 *    line here for each new context);
 * 2. any workspace package under libs/ whose package.json says `"carve": { "carvableContext":
 *    "<name>" }` and that is not imported yet: required by name at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type CarvableContext, carvableContexts, findCarvableContext } from '@carve/shared-carving';
import { repoRoot } from '../paths';
import '@carve/insights-carving';
import '@carve/roadmaps-carving';

let discovered = false;

/** Loads the carving libraries of the workspace that declare a carvable context (once). */
export function discoverContexts(root = repoRoot()): void {
  if (discovered) return;
  discovered = true;
  const libs = path.join(root, 'libs');
  if (!fs.existsSync(libs)) return;
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
      if (!name || !pkg.name || findCarvableContext(name)) continue;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by discovery, for its side effect (it registers)
        require(path.join(dir, lib));
      } catch (err) {
        process.stderr.write(`carve: could not load the carving library ${pkg.name}: ${(err as Error).message}\n`);
      }
    }
  }
}

export function knownContexts(): CarvableContext[] {
  discoverContexts();
  return carvableContexts();
}

export function lookupContext(name: string): CarvableContext | undefined {
  discoverContexts();
  return findCarvableContext(name);
}
