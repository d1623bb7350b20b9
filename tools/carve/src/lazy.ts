/**
 * Starting fast: `carve <command>` loads only the file that registers <command>, and
 * `carve --help` prints a help text kept from an earlier run, so neither loads every command's
 * libraries (pg, kafkajs, the carving machinery). Both come from a manifest, written by a run that
 * did load every command, and keyed by the size and mtime of every file of the CLI's sources: a
 * change to any of them makes the next run load everything once and write a new manifest. With
 * no manifest (first run, read-only checkout), everything is loaded, as before.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

export interface Manifest {
  /** The top-level help, as `carve --help` prints it. */
  help: string;
  /** Command name → the file (relative to this folder, no extension) and export that registers it. */
  commands: Record<string, { file: string; exportName: string }>;
}

function cacheDir(): string | undefined {
  for (let dir = __dirname; ; ) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'carve-cli');
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function sourceKey(): string {
  const h = crypto.createHash('sha1');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  walk(__dirname);
  return h.digest('hex').slice(0, 16);
}

function manifestFile(): string | undefined {
  const dir = cacheDir();
  return dir ? path.join(dir, `manifest-${sourceKey()}.json`) : undefined;
}

export function readManifest(): Manifest | undefined {
  const file = manifestFile();
  if (!file) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * Registers every command on `program` (what `commands` lists), and writes the manifest: which
 * file registers which command, and the top-level help.
 */
export function registerAll(program: Command): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { commands } = require('./commands') as typeof import('./commands');
  const owners = new Map<unknown, { file: string; exportName: string }>();
  for (const [id, mod] of Object.entries(require.cache)) {
    if (!id.startsWith(path.join(__dirname, 'commands') + path.sep) || !mod) continue;
    for (const [exportName, value] of Object.entries(mod.exports as Record<string, unknown>)) {
      if (typeof value === 'function') owners.set(value, { file: path.relative(__dirname, id).replace(/\.[jt]s$/, ''), exportName });
    }
  }
  const manifest: Manifest = { help: '', commands: {} };
  let complete = true;
  for (const register of commands) {
    const before = new Set(program.commands.map((c) => c.name()));
    register(program);
    const owner = owners.get(register);
    if (!owner) complete = false;
    for (const c of program.commands) if (!before.has(c.name()) && owner) manifest.commands[c.name()] = owner;
  }
  const file = manifestFile();
  if (!file || !complete) return;
  let help = '';
  const saved = { ...program.configureOutput() };
  program.configureOutput({ writeOut: (s) => (help += s) });
  program.outputHelp();
  program.configureOutput(saved);
  manifest.help = help;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(manifest));
    fs.renameSync(tmp, file);
  } catch {
    // no cache: every run loads every command
  }
}

/** Registers only the file that owns `name`, from the manifest; false when the manifest does not know it. */
export function registerOne(program: Command, manifest: Manifest, name: string): boolean {
  const owner = manifest.commands[name];
  if (!owner) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(__dirname, owner.file)) as Record<string, (p: Command) => void>;
  const register = mod[owner.exportName];
  if (typeof register !== 'function') return false;
  register(program);
  return true;
}
