/**
 * How fast `carve` starts, beside `node -e 0`, in one run with the variants interleaved (so a
 * busy machine slows them alike):
 *
 *   npm run bench:cli-start -w @carve/bench -- --runs 15
 *
 * - `node -e 0`: the floor;
 * - `carve --version` and `carve --help` (warm: compiled sources in node_modules/.cache/carve-ts,
 *   the help from the command manifest);
 * - `carve status` against DATABASE_URL (else it only times the failure to connect, and says so);
 * - `npx carve --help`: what a reader of the README types (npx finds the workspace's bin);
 * - before: the same `--help` the way bin/carve.js ran it until then (the @swc-node/register hook,
 *   every command loaded).
 *
 * Wall time and CPU (user + sys, from /usr/bin/time) per run: median and p90 of each.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs, percentile } from './stats';

const root = path.resolve(__dirname, '..', '..', '..');
const carve = path.join(root, 'tools/carve/bin/carve.js');

interface Variant {
  name: string;
  cmd: string[];
}

function timed(cmd: string[]): { wallMs: number; cpuMs: number; code: number | null } {
  const r = spawnSync('/usr/bin/time', ['-f', '__time %e %U %S', ...cmd], { cwd: root, encoding: 'utf8', env: process.env, timeout: 60_000 });
  const m = /__time ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  if (!m) throw new Error(`no timing for ${cmd.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return { wallMs: Number(m[1]) * 1000, cpuMs: (Number(m[2]) + Number(m[3])) * 1000, code: r.status };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const runs = Number(args.runs ?? 15);
  const variants: Variant[] = [
    { name: 'node -e 0', cmd: [process.execPath, '-e', '0'] },
    { name: 'carve --version', cmd: [process.execPath, carve, '--version'] },
    { name: 'carve --help', cmd: [process.execPath, carve, '--help'] },
    { name: 'carve status', cmd: [process.execPath, carve, 'status'] },
    { name: 'npx carve --help', cmd: ['npx', '--no-install', 'carve', '--help'] },
    {
      name: 'before: --help via @swc-node/register, all commands',
      cmd: [process.execPath, '-r', path.join(root, 'tools/scripts/register-ts.js'), '-e', `try { require(${JSON.stringify(path.join(root, 'tools/carve/src/program.ts'))}).buildProgram().parse(['node', 'carve', '--help']) } catch {}`],
    },
  ];
  // Warm the caches (compiled sources, the command manifest) once.
  for (const v of variants) timed(v.cmd);
  const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  let statusCode: number | null = null;
  for (let i = 0; i < runs; i++) {
    for (const v of variants) {
      const t = timed(v.cmd);
      wall.get(v.name)!.push(t.wallMs);
      cpu.get(v.name)!.push(t.cpuMs);
      if (v.name === 'carve status') statusCode = t.code;
    }
  }
  const p = (xs: number[], q: number) => percentile([...xs].sort((a, b) => a - b), q);
  const floor = p(wall.get('node -e 0')!, 50);
  process.stdout.write(`${runs} runs each, interleaved; ${statusCode === 0 ? 'carve status reached its database' : `carve status exited ${statusCode} (no database reached: set DATABASE_URL)`}\n`);
  process.stdout.write(`${'variant'.padEnd(54)} ${'wall p50'.padStart(9)} ${'wall p90'.padStart(9)} ${'cpu p50'.padStart(9)} ${'x node'.padStart(7)}\n`);
  for (const v of variants) {
    const w = wall.get(v.name)!;
    const c = cpu.get(v.name)!;
    process.stdout.write(`${v.name.padEnd(54)} ${`${Math.round(p(w, 50))} ms`.padStart(9)} ${`${Math.round(p(w, 90))} ms`.padStart(9)} ${`${Math.round(p(c, 50))} ms`.padStart(9)} ${(p(w, 50) / floor).toFixed(2).padStart(7)}\n`);
  }
}

main();
