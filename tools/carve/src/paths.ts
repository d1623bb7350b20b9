import path from 'node:path';

export { repoRoot } from '@carve/shared-persistence';

/** Node arguments that run a TypeScript entry file through the workspace's SWC hook. */
export function tsEntryArgs(entry: string, args: string[] = []): string[] {
  const hook = path.join(__dirname, '..', '..', 'scripts', 'register-ts.js');
  return ['-r', hook, entry, ...args];
}
