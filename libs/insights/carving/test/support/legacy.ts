/**
 * Test support: a database with the monolith's schema and bulk data (the monolith's own seed
 * process, as `carve seed` runs it: the tests never import the monolith) and the insights schema
 * (its migrations).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';

export const ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
export const REGISTER_TS = path.join(ROOT, 'tools/scripts/register-ts.js');
export const CARVE_BIN = path.join(ROOT, 'tools/carve/bin/carve.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a node process to its end (bounded), collecting its output. */
export function runNode(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `carve <args>` against `url`. */
export const carve = (url: string, args: string[], env: NodeJS.ProcessEnv = {}) => runNode([CARVE_BIN, ...args], { DATABASE_URL: url, CARVE_ADMIN_URL: 'http://127.0.0.1:1', ...env });

/** Monolith schema + `notes` notes over `workspaces` workspaces; the insights schema, empty. */
export async function seedLegacyAndInsights(url: string, workspaces: number, notes: number): Promise<void> {
  const entry = path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts');
  const seed = await runNode(['-r', REGISTER_TS, entry, '--workspaces', String(workspaces), '--notes', String(notes), '--seed', '7'], { DATABASE_URL: url });
  if (seed.code !== 0) throw new Error(`seeding failed (${seed.code}): ${seed.stderr}`);
  await migrateInsights(url);
}
