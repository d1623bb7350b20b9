import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { helmBinary } from './binary';
import { HelmToolError } from './errors';
import { CACHE_DIR, WORKSPACE_ROOT } from './paths';

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface HelmOptions {
  /** Return a failed run instead of throwing. */
  allowFailure?: boolean;
  cwd?: string;
}

/**
 * Environment for Helm: HOME, XDG and HELM_* folders in a scratch directory, a kubeconfig that
 * does not exist (nothing can reach a cluster), and nothing else from the caller's environment
 * but PATH (no AWS credentials, no stray HELM_* settings).
 */
export function helmEnv(scratch: string = path.join(CACHE_DIR, 'helm', 'home')): NodeJS.ProcessEnv {
  for (const dir of ['cache', 'config', 'data']) fs.mkdirSync(path.join(scratch, dir), { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    XDG_CACHE_HOME: path.join(scratch, 'cache'),
    XDG_CONFIG_HOME: path.join(scratch, 'config'),
    XDG_DATA_HOME: path.join(scratch, 'data'),
    HELM_CACHE_HOME: path.join(scratch, 'cache', 'helm'),
    HELM_CONFIG_HOME: path.join(scratch, 'config', 'helm'),
    HELM_DATA_HOME: path.join(scratch, 'data', 'helm'),
    KUBECONFIG: path.join(scratch, 'no-cluster.kubeconfig'),
    NO_COLOR: '1',
  };
}

/** Runs the npm-shipped Helm with `args`; throws a HelmToolError carrying Helm's own message on failure. */
export function helm(args: string[], options: HelmOptions = {}): HelmResult {
  const run = spawnSync(helmBinary(), args, {
    cwd: options.cwd ?? WORKSPACE_ROOT,
    env: helmEnv(),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) throw new HelmToolError(`helm could not start: ${run.error.message}`, 'delete .carve/bin and try again');
  const result = { status: run.status ?? 1, stdout: run.stdout, stderr: run.stderr };
  if (result.status !== 0 && !options.allowFailure) {
    const message = firstErrorLine(result.stderr || result.stdout) ?? `helm ${args[0]} exited with ${result.status}`;
    throw new HelmToolError(`helm ${args[0]} failed: ${message}`, 'see the details below', `${result.stdout}${result.stderr}`.trim());
  }
  return result;
}

function firstErrorLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith('Error:') || l.startsWith('[ERROR]'))?.replace(/^Error:\s*/, '') ?? lines[0];
}
