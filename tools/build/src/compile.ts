import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Options, transformFileSync } from '@swc/core';
import { BuildToolError } from './errors';
import { WORKSPACE_ROOT } from './paths';

/** Files under src/ that are never part of a build: tests, declarations, test-only folders. */
const NOT_SHIPPED = [/\.(spec|test)\.[cm]?[tj]s$/, /\.d\.ts$/, /(^|\/)(__tests__|__mocks__|test|tests)\//];

export function isShippedSource(relPath: string): boolean {
  const rel = relPath.split(path.sep).join('/');
  return !NOT_SHIPPED.some((re) => re.test(rel));
}

/**
 * The repository's .swcrc (decorator metadata on: Nest's dependency injection reads it), with
 * source maps written next to each file instead of inline, and without the TypeScript sources
 * inside them (stack traces still map to .ts lines with --enable-source-maps).
 */
export function swcOptions(root: string = WORKSPACE_ROOT): Options {
  const file = path.join(root, '.swcrc');
  const rc = JSON.parse(fs.readFileSync(file, 'utf8')) as Options & { $schema?: string };
  delete rc.$schema;
  return { ...rc, swcrc: false, configFile: false, sourceMaps: true, inlineSourcesContent: false };
}

/** Lists a folder's files recursively (relative paths, sorted), skipping node_modules unless asked. */
export function listFiles(dir: string, options: { nodeModules?: boolean } = {}, rel = ''): string[] {
  const out: string[] = [];
  if (!fs.existsSync(path.join(dir, rel))) return out;
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const relPath = rel ? path.join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' || options.nodeModules) out.push(...listFiles(dir, options, relPath));
    } else if (entry.isFile()) out.push(relPath);
  }
  return out;
}

export interface CompiledFile {
  /** The source, relative to the source folder. */
  source: string;
  /** The written .js file (absolute). */
  output: string;
  code: string;
}

export interface CompileResult {
  compiled: CompiledFile[];
  /** Non-TypeScript files copied as they are (JSON, YAML, SQL next to the code). */
  copied: string[];
}

/**
 * Compiles every shipped .ts file under `srcDir` into `outDir` (same relative layout, .js plus
 * .js.map) and copies the other shipped files unchanged.
 */
export function compileTree(srcDir: string, outDir: string, options: Options = swcOptions()): CompileResult {
  const compiled: CompiledFile[] = [];
  const copied: string[] = [];
  for (const rel of listFiles(srcDir)) {
    if (!isShippedSource(rel)) continue;
    const src = path.join(srcDir, rel);
    if (/\.[cm]?ts$/.test(rel)) {
      const output = path.join(outDir, rel.replace(/\.([cm]?)ts$/, '.$1js'));
      let result;
      try {
        result = transformFileSync(src, {
          ...options,
          filename: src,
          sourceFileName: path.relative(path.dirname(output), src).split(path.sep).join('/'),
          outputPath: output,
        });
      } catch (err) {
        throw new BuildToolError(`SWC could not compile ${path.relative(WORKSPACE_ROOT, src)}`, 'fix the syntax error below', String((err as Error).message ?? err));
      }
      fs.mkdirSync(path.dirname(output), { recursive: true });
      const mapName = `${path.basename(output)}.map`;
      const linked = !result.map || result.code.includes('//# sourceMappingURL=');
      fs.writeFileSync(output, linked ? result.code : `${result.code}\n//# sourceMappingURL=${mapName}\n`);
      if (result.map) fs.writeFileSync(`${output}.map`, result.map);
      compiled.push({ source: rel, output, code: result.code });
    } else {
      const output = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(output), { recursive: true });
      fs.copyFileSync(src, output);
      copied.push(output);
    }
  }
  return { compiled, copied };
}
