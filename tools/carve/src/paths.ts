import path from 'node:path';

export { repoRoot } from '@carve/shared-persistence';

/**
 * Node arguments that run a TypeScript entry file: each file compiled once with the workspace's
 * .swcrc (what the build uses) and kept in node_modules/.cache/carve-ts (tools/scripts/ts-cache.js),
 * stack traces mapped to the .ts lines.
 */
export function tsEntryArgs(entry: string, args: string[] = []): string[] {
  const hook = path.join(__dirname, '..', '..', 'scripts', 'ts-cache.js');
  return ['--enable-source-maps', '-r', hook, entry, ...args];
}
