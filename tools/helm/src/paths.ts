import * as path from 'node:path';

/** The repository root (tools/helm/src -> ../../..). */
export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..', '..');
export const CHARTS_DIR = path.join(WORKSPACE_ROOT, 'charts');
/** Ignored cache (`.carve/` is in .gitignore): the extracted binary, Helm's scratch home, stamps. */
export const CACHE_DIR = path.join(WORKSPACE_ROOT, '.carve');
export const DIST_CHARTS_DIR = path.join(WORKSPACE_ROOT, 'dist', 'charts');
