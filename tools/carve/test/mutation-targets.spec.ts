/**
 * The mutation target (docs/testing.md) cannot silently disappear: every library a carve
 * depends on keeps a `mutation` script (Nx's `mutation` target, outside `npm test`), a
 * stryker.config.cjs with a break threshold, and mutate entries that name files that exist.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** The projects whose mistakes would split ownership, misroute a tenant or lose an event. */
const PROJECTS = ['libs/shared/routing', 'libs/shared/carving', 'libs/shared/messaging', 'libs/shared/control-plane'];

interface StrykerConfig {
  testRunner: string;
  mutate: string[];
  concurrency: number;
  tempDirName: string;
  jest: { configFile: string };
  thresholds: { high: number; low: number; break: number | null };
}

const configOf = (dir: string): StrykerConfig => require(path.join(root, dir, 'stryker.config.cjs'));

describe.each(PROJECTS)('%s', (dir) => {
  it('has a `mutation` target that runs Stryker, and keeps it out of `test`', () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')).scripts;
    expect(scripts.mutation).toBe('stryker run');
    expect(scripts.test).toBe('jest');
  });

  it('has a Stryker config with a break threshold, one test runner and a sandbox under tmp/', () => {
    const config = configOf(dir);
    expect(config.testRunner).toBe('jest');
    expect(config.concurrency).toBe(1);
    expect(typeof config.thresholds.break).toBe('number');
    expect(config.thresholds.break).toBeGreaterThan(0);
    expect(config.thresholds.break).toBeLessThanOrEqual(100);
    expect(path.relative(root, path.resolve(root, dir, config.tempDirName))).toMatch(/^tmp[\\/]stryker-/);
    expect(fs.existsSync(path.join(root, dir, config.jest.configFile))).toBe(true);
  });

  it('mutates files that exist (a renamed file must not leave the target mutating nothing)', () => {
    const { mutate } = configOf(dir);
    expect(mutate.filter((m) => !m.startsWith('!')).length).toBeGreaterThan(0);
    for (const entry of mutate) {
      const pattern = entry.replace(/^!/, '');
      if (pattern.includes('*')) {
        expect(fs.existsSync(path.join(root, dir, pattern.slice(0, pattern.indexOf('*'))))).toBe(true);
        continue;
      }
      const [file, range] = pattern.split(':');
      expect(fs.existsSync(path.join(root, dir, file))).toBe(true);
      if (range) {
        const [from, to] = range.split('-').map(Number);
        const lines = fs.readFileSync(path.join(root, dir, file), 'utf8').split('\n').length;
        expect(from).toBeLessThan(to);
        expect(to).toBeLessThanOrEqual(lines);
      }
    }
  });
});

it('npm test runs no mutation target', () => {
  const script = fs.readFileSync(path.join(root, 'tools/scripts/test-all.sh'), 'utf8');
  expect(script).not.toMatch(/mutation|stryker/i);
  expect(script).toMatch(/run-many -t test /);
});
