/**
 * The CLI as a script drives it: `--version`, the exit codes `--help` documents (usage errors
 * exit 2), and the fast start: the help a later run prints from the cached manifest is the help
 * a run that loaded every command printed, and a command's own help still comes from its file.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CARVE_BIN, ROOT } from '@carve/shared-testing';

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CARVE_BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('carve CLI', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'tools/carve/package.json'), 'utf8')) as { version: string };
    expect(run('--version')).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('--help lists every command and the exit codes, the same from the cache as from a full load', () => {
    const cacheDir = path.join(ROOT, 'node_modules/.cache/carve-cli');
    fs.rmSync(cacheDir, { recursive: true, force: true });
    const full = run('--help');
    expect(full.code).toBe(0);
    expect(fs.readdirSync(cacheDir).some((f) => f.startsWith('manifest-'))).toBe(true);
    const cached = run('--help');
    expect(cached).toEqual(full);
    for (const c of ['dev', 'seed', 'backfill', 'verify', 'stage', 'cutover', 'rollback', 'status', 'cohort', 'routes', 'move']) expect(full.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(full.stdout).toContain('Exit codes:');
    expect(full.stdout).toMatch(/^ {2}2 {2}usage/m);
    expect(full.stdout).toMatch(/^ {2}3 {2}refused/m);
    expect(full.stdout).toMatch(/^ {2}4 {2}drift/m);
    expect(full.stdout).toMatch(/^ {2}5 {2}unreachable/m);
    expect(full.stdout).toMatch(/^ {2}6 {2}overrides/m);
  });

  it("a command's help comes from its own file; usage errors exit 2", () => {
    const stage = run('stage', '--help');
    expect(stage.code).toBe(0);
    expect(stage.stdout).toContain('Usage: carve stage [options] <context> <stage>');
    expect(run('no-such-command').code).toBe(2);
    const badOption = run('verify', 'insights', '--no-such-option');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("unknown option '--no-such-option'");
    expect(run('stage').code).toBe(2);
  });

  it('per-workspace moves and the throttles of both backfills: bad selections are usage errors (exit 2) before anything connects', () => {
    const cases = [
      ['stage', 'insights', 'canary', '--percent', '5', '--workspace', 'w1'],
      ['cutover', 'insights', '--writes', '--workspace', 'w1', '--include-overrides'],
      ['rollback', 'insights', '--workspace', ','],
      ['cohort', 'set', 'Not_A_Name', 'w1'],
      ['cohort', 'set', 'internal', ' , '],
      ['backfill', 'insights', '--throttle', 'sometimes'],
      ['backfill', 'insights', '--throttle', 'off', '--max-latency-ms', '50'],
      ['move', 'backfill', '--schema', 'legacy', '--to', 'postgres://127.0.0.1:1/x', '--throttle', 'sometimes'],
      ['move', 'backfill', '--schema', 'legacy', '--to', 'postgres://127.0.0.1:1/x', '--throttle', 'off', '--max-replica-lag-ms', '500'],
      ['move', 'backfill', '--schema', 'legacy', '--to', 'postgres://127.0.0.1:1/x', '--max-rows-per-second', '0'],
    ];
    for (const args of cases) {
      const r = run(...args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).not.toContain('cannot reach');
    }
  });

  it('--json on a state-changing command prints one JSON object on stdout', () => {
    const r = run('kafka', 'down', '--json', '--data-dir', path.join(ROOT, '.carve', `cli-spec-no-broker-${process.pid}`));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ stopped: false, pid: null });
  });

  it('a database it cannot reach exits 5 (unreachable)', () => {
    const r = run('seed', '--workspaces', '1', '--notes', '1');
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('cannot reach the database');
  });
});
