import * as path from 'node:path';

/** The repository root (tools/build/src -> ../../..). */
export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..', '..');
/** Where every build lands: dist/<project root>/ (the Nx `build` target's output). */
export const DIST_DIR = path.join(WORKSPACE_ROOT, 'dist');

/** The build output folder of a project root such as `apps/gateway`. */
export function outDirFor(projectRoot: string, distDir: string = DIST_DIR): string {
  return path.join(distDir, projectRoot);
}

/** Forward slashes, relative to `from`: how paths appear in manifests, Dockerfiles and logs. */
export function posixRelative(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/');
}
