import { BuildToolError } from './errors';

/** An entry of package-lock.json (lockfileVersion 3) `packages`. */
export interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/**
 * Where Node (and npm) would find package `name` when required from the package installed at
 * `from` (a `packages` key such as `node_modules/a/node_modules/b`, or '' for the root): its own
 * node_modules first, then each enclosing one up to the root.
 */
export function resolveInLock(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const idx = dir.lastIndexOf('node_modules/');
    dir = idx <= 0 ? '' : dir.slice(0, idx - 1);
  }
}

export interface PruneInput {
  name: string;
  version: string;
  /** The runtime dependencies (exact versions) the pruned tree starts from. */
  dependencies: Record<string, string>;
  engines?: Record<string, string>;
}

export interface PruneResult {
  lockfile: Lockfile;
  /** Packages in the pruned tree (keys of `packages`, the root excluded). */
  installed: string[];
}

/**
 * The part of the workspace lockfile that `dependencies` need at runtime, as a lockfile of its
 * own, so the image's deps stage can run `npm ci --omit=dev` and get exactly the versions the
 * repository was tested with. Dev-only packages drop out; `optional` is recomputed for the
 * smaller tree (a package is optional when only optionalDependencies edges reach it).
 */
export function pruneLockfile(root: Lockfile, input: PruneInput): PruneResult {
  const all = root.packages;
  if (root.lockfileVersion < 2) throw new BuildToolError(`package-lock.json has lockfileVersion ${root.lockfileVersion}`, 'regenerate it with npm 9 or newer');

  const reached = new Set<string>();
  const required = new Set<string>();
  const missing: string[] = [];

  const walk = (start: string[], strict: boolean, into: Set<string>): void => {
    const queue = [...start];
    while (queue.length > 0) {
      const key = queue.shift()!;
      if (into.has(key)) continue;
      into.add(key);
      const entry = all[key];
      if (entry.link) throw new BuildToolError(`${key} is a workspace link`, 'workspace packages are compiled into the output, not installed');
      const edges: Array<[string, boolean]> = [
        ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, false]),
        ...Object.keys(entry.peerDependencies ?? {})
          .filter((n) => !entry.peerDependenciesMeta?.[n]?.optional)
          .map((n): [string, boolean] => [n, false]),
        ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ];
      for (const [dep, optional] of edges) {
        if (strict && optional) continue;
        const found = resolveInLock(all, key, dep);
        if (found) queue.push(found);
        else if (!optional && strict) missing.push(`${dep} (needed by ${key})`);
      }
    }
  };

  const start = Object.entries(input.dependencies).map(([dep, version]) => {
    const key = resolveInLock(all, '', dep);
    if (!key) throw new BuildToolError(`${dep} is not in package-lock.json`, 'run `npm install` at the repository root');
    if (all[key].version !== version) {
      throw new BuildToolError(`${dep}: package.json says ${version}, package-lock.json has ${all[key].version}`, 'run `npm install` at the repository root');
    }
    return key;
  });
  walk(start, false, reached);
  walk(start, true, required);
  if (missing.length > 0) throw new BuildToolError(`package-lock.json is missing ${missing.length} package(s) the runtime tree needs: ${missing.slice(0, 5).join(', ')}`, 'run `npm install` at the repository root');

  const packages: Record<string, LockEntry> = {
    '': {
      name: input.name,
      version: input.version,
      ...(input.engines ? { engines: input.engines } : {}),
      dependencies: input.dependencies,
    },
  };
  const installed = [...reached].sort();
  for (const key of installed) {
    const { dev: _dev, devOptional: _devOptional, peer: _peer, optional: _optional, ...rest } = all[key];
    packages[key] = required.has(key) ? rest : { ...rest, optional: true };
  }
  return { lockfile: { name: input.name, version: input.version, lockfileVersion: 3, requires: true, packages }, installed };
}
