import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listFiles } from './compile';

/**
 * Files of a project's root (outside src/) that ship with it: data the code reads at runtime,
 * such as a route table (`apps/gateway/routes/`), topic declarations (`topics.yaml`) or a JSON
 * Schema. Everything that only serves development stays behind.
 */
const DEV_DIRS = new Set(['src', 'test', 'tests', '__tests__', 'e2e', 'bin', 'dist', 'node_modules', 'coverage', 'tmp']);
const DEV_FILES = [
  /^package\.json$/,
  /^project\.json$/,
  /^tsconfig(\..+)?\.json$/,
  /^jest\.config\.[cm]?[jt]s$/,
  /^eslint\.config\.[cm]?[jt]s$/,
  /^\.eslintrc/,
  /\.md$/i,
  /^Dockerfile(\..+)?$/,
  /^\.dockerignore$/,
  /\.[cm]?ts$/,
  /\.(spec|test)\.[cm]?js$/,
  /^Procfile$/,
  /^app\.json$/,
  /^pom\.xml$/,
];

export function isRuntimeAsset(relPath: string): boolean {
  const parts = relPath.split(/[\\/]/);
  if (parts.some((p) => p.startsWith('.'))) return false;
  if (parts.length > 1 && DEV_DIRS.has(parts[0])) return false;
  return !DEV_FILES.some((re) => re.test(parts[parts.length - 1]));
}

/** Files under `projectRoot` that git tracks or would track (ignored ones excluded), relative to it. */
export function projectFiles(workspaceRoot: string, projectRoot: string): string[] {
  const run = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', projectRoot], { cwd: workspaceRoot, encoding: 'utf8' });
  if (run.status !== 0) {
    // Not a git checkout (an unpacked source tarball): everything but dot-folders.
    return listFiles(path.join(workspaceRoot, projectRoot));
  }
  const prefix = `${projectRoot.replace(/\/$/, '')}/`;
  return [...new Set(run.stdout.split('\0').filter(Boolean))]
    .filter((f) => f.startsWith(prefix) && fs.existsSync(path.join(workspaceRoot, f)))
    .map((f) => f.slice(prefix.length))
    .sort();
}

/** Copies the runtime assets of a project root into `outDir` (same relative layout); returns them. */
export function copyAssets(workspaceRoot: string, projectRoot: string, outDir: string): string[] {
  const copied: string[] = [];
  for (const rel of projectFiles(workspaceRoot, projectRoot)) {
    if (!isRuntimeAsset(rel)) continue;
    const target = path.join(outDir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(workspaceRoot, projectRoot, rel), target);
    copied.push(rel);
  }
  return copied;
}
