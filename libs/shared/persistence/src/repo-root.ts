import fs from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

/** The monorepo root: the nearest folder above this file (or the cwd) holding nx.json. */
export function repoRoot(): string {
  if (cached) return cached;
  for (const start of [__dirname, process.cwd()]) {
    let dir = path.resolve(start);
    for (;;) {
      if (fs.existsSync(path.join(dir, 'nx.json'))) return (cached = dir);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return (cached = process.cwd());
}
