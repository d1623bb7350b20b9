import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyAssets } from './assets';
import { compileTree, type CompiledFile, listFiles, swcOptions } from './compile';
import { BuildToolError } from './errors';
import { bundledUis, bundleDir, carvingLibraries, dependencyClosure, loadWorkspace, projectOrThrow, type Workspace, type WorkspaceProject } from './graph';
import { type Lockfile, pruneLockfile } from './lockfile';
import { DIST_DIR, outDirFor, posixRelative } from './paths';
import { classifySpecifier, scanRequires } from './requires';

/*
 * The `build` target of a deployable: plain JavaScript that runs with `node`, no TypeScript hook.
 *
 * dist/<project root>/                     the build output, laid out like the image's /app
 *   package.json                           runtime manifest: only the npm packages the compiled code requires,
 *                                          at the root package.json's versions
 *   package-lock.json                      the root lockfile pruned to those packages (`npm ci --omit=dev`)
 *   <project root>/dist/**.js (+ .js.map)  the project's src/, compiled by SWC with the repo's .swcrc
 *   <project root>/<assets>                runtime data next to src/ (route tables, ...)
 *   <project root>/bin/<name>.js           launchers for package.json `bin` entries, pointing at dist/
 *   <project root>/<ui>/                   each web UI the app bundles (a type:ui project it depends on in
 *                                          the Nx graph: the gateway's console), copied from dist/<ui root>/
 *   node_modules/@carve/<lib>/             each workspace library the code requires (found through the
 *                                          Nx graph), compiled to src/**.js with `main` rewritten to .js;
 *                                          also the carving libraries (`carve.carvableContext`) the app
 *                                          depends on in the graph without requiring them (the gateway's
 *                                          implicit dependency on `*-carving`: it loads them by discovery)
 *   carve-build.json                       what went in: entries, libraries, bundled UIs, dependencies
 *
 * Working directory /app = this folder: `node apps/<app>/dist/main.js` is the chart's command.
 */

export const MANIFEST_FILE = 'carve-build.json';

export interface BuiltLibrary {
  project: string;
  packageName: string;
  /** Where the library lives in the output, e.g. node_modules/@carve/shared-config. */
  dir: string;
}

export interface BundledUi {
  project: string;
  /** Where the UI's static files are in the output, e.g. apps/gateway/console. */
  dir: string;
  files: number;
}

export interface BuildManifest {
  project: string;
  root: string;
  /** Entry points relative to the output folder, e.g. apps/legacy-monolith/dist/main.js. */
  entries: string[];
  /** package.json `bin` name -> launcher, relative to the output folder. */
  bins: Record<string, string>;
  libraries: BuiltLibrary[];
  /** Web UIs copied in from their own build output (served by the app). */
  bundles: BundledUi[];
  dependencies: Record<string, string>;
  /** Packages the runtime code requires that the root package.json lists only as devDependencies. */
  fromDevDependencies: string[];
  /** Count of require() calls with a computed argument (not followed). */
  dynamicRequires: number;
  files: number;
}

export interface BuildResult {
  outDir: string;
  manifest: BuildManifest;
  warnings: string[];
}

export interface BuildOptions {
  workspace?: Workspace;
  /** Where builds land (default dist/): the output goes to <distDir>/<root>/, bundled UIs are read from <distDir>/<ui root>/. */
  distDir?: string;
  log?: (line: string) => void;
}

interface RootPackage {
  version?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

interface ProjectPackage {
  name: string;
  version?: string;
  description?: string;
  main?: string;
  bin?: string | Record<string, string>;
  license?: string;
  carve?: { carvableContext?: string };
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const writeJson = (file: string, value: unknown): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
};
const sortKeys = <T>(obj: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** A module file exists for `request` resolved from `fromFile` (Node's CommonJS extension rules). */
function resolvesLocally(fromFile: string, request: string): boolean {
  const base = path.resolve(path.dirname(fromFile), request);
  return ['', '.js', '.json', '.node', '/index.js', '/index.json'].some((ext) => fs.existsSync(base + ext) && fs.statSync(base + ext).isFile());
}

function binEntries(pkg: ProjectPackage): Record<string, string> {
  if (!pkg.bin) return {};
  if (typeof pkg.bin === 'string') return { [pkg.name.replace(/^@[^/]+\//, '')]: pkg.bin };
  return pkg.bin;
}

/**
 * The launchers in bin/ run the TypeScript sources through the SWC hook. Their compiled twin
 * requires the matching file under dist/: the launcher names it as `src/<name>.ts` or
 * `'src', '<name>.ts'`.
 */
function launcherTarget(sourceLauncher: string): string {
  const text = fs.readFileSync(sourceLauncher, 'utf8');
  const m = /['"]src['"]\s*,\s*['"]([\w./-]+)\.ts['"]/.exec(text) ?? /src\/([\w./-]+)\.ts/.exec(text);
  if (!m) {
    throw new BuildToolError(`cannot tell which src/ file the launcher ${sourceLauncher} runs`, "name it as path.join(__dirname, '..', 'src', '<file>.ts')");
  }
  return m[1];
}

/** Builds one deployable project into dist/<root>/. */
export async function buildProject(name: string, options: BuildOptions = {}): Promise<BuildResult> {
  const ws = options.workspace ?? (await loadWorkspace());
  const log = options.log ?? (() => undefined);
  const project = projectOrThrow(ws, name);
  const workspaceRoot = ws.root;
  const srcDir = path.join(workspaceRoot, project.root, 'src');
  if (!fs.existsSync(srcDir)) throw new BuildToolError(`${name} has no src/ folder (${project.root}/src)`, 'only projects with TypeScript sources under src/ can be built');
  const rootPkg = readJson<RootPackage>(path.join(workspaceRoot, 'package.json'));
  const pkg = readJson<ProjectPackage>(path.join(workspaceRoot, project.root, 'package.json'));

  const outDir = outDirFor(project.root, options.distDir ?? DIST_DIR);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const swc = swcOptions(workspaceRoot);
  const warnings: string[] = [];
  let files = 0;

  // Everything compiled, with the project that owns it (for messages and graph checks).
  const units: Array<{ owner: WorkspaceProject; files: CompiledFile[] }> = [];

  // 1. The app itself: src/ -> <root>/dist/, assets next to it, bin launchers.
  const appOut = path.join(outDir, project.root);
  const app = compileTree(srcDir, path.join(appOut, 'dist'), swc);
  if (app.compiled.length === 0) throw new BuildToolError(`${name}: src/ holds no TypeScript to compile`, 'add the sources under src/');
  units.push({ owner: project, files: app.compiled });
  files += app.compiled.length + app.copied.length + copyAssets(workspaceRoot, project.root, appOut).length;

  // The web UIs it serves: their own build (run first through `^build`) copied next to dist/.
  const bundles: BundledUi[] = [];
  for (const ui of bundledUis(ws, name)) {
    const from = outDirFor(ui.root, options.distDir ?? DIST_DIR);
    if (!fs.existsSync(path.join(from, 'index.html'))) {
      throw new BuildToolError(`${name} bundles ${ui.name}, but ${from} holds no index.html`, `build it first: npx nx run ${ui.name}:build (nx run ${name}:build does)`);
    }
    const dir = bundleDir(project, ui);
    const to = path.join(outDir, dir);
    if (fs.existsSync(to)) throw new BuildToolError(`${name}: ${dir} already holds runtime assets of ${project.root}, so ${ui.name} cannot be bundled there`, `rename ${project.root}/${path.basename(dir)}`);
    const uiFiles = listFiles(from);
    for (const rel of uiFiles) {
      fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
      fs.copyFileSync(path.join(from, rel), path.join(to, rel));
    }
    files += uiFiles.length;
    bundles.push({ project: ui.name, dir, files: uiFiles.length });
    log(`  ui    ${ui.name} -> ${posixRelative(workspaceRoot, to)}`);
  }

  const bins: Record<string, string> = {};
  for (const [binName, binPath] of Object.entries(binEntries(pkg))) {
    const target = launcherTarget(path.join(workspaceRoot, project.root, binPath));
    const outLauncher = path.join(appOut, binPath.replace(/\.ts$/, '.js'));
    const compiledTarget = path.join(appOut, 'dist', `${target}.js`);
    if (!fs.existsSync(compiledTarget)) throw new BuildToolError(`bin ${binName} runs src/${target}.ts, which compiled to nothing`, 'check the launcher');
    fs.mkdirSync(path.dirname(outLauncher), { recursive: true });
    const rel = posixRelative(path.dirname(outLauncher), compiledTarget);
    fs.writeFileSync(outLauncher, `#!/usr/bin/env node\n// Generated by tools/build: runs the compiled ${target}.js.\n'use strict';\nrequire('${rel.startsWith('.') ? rel : `./${rel}`}');\n`, { mode: 0o755 });
    bins[binName] = posixRelative(outDir, outLauncher);
    files++;
  }

  // 2. Follow the requires: workspace libraries get compiled into node_modules/@carve/<lib>/,
  //    npm packages are collected for the runtime package.json.
  const closure = dependencyClosure(ws, name);
  const libraries = new Map<string, BuiltLibrary>();
  const packages = new Map<string, Set<string>>();
  let dynamicRequires = 0;
  const pendingSubpaths: Array<{ from: string; lib: string; subpath: string }> = [];

  /** Compiles a workspace library into node_modules/<its package name>/ (once); its requires are followed in turn. */
  const addLibrary = (lib: WorkspaceProject): void => {
    if (libraries.has(lib.name)) return;
    const packageName = lib.packageName!;
    const libDir = path.join(outDir, 'node_modules', ...packageName.split('/'));
    const libSrc = path.join(workspaceRoot, lib.root, 'src');
    if (!fs.existsSync(libSrc)) throw new BuildToolError(`${lib.name} (${lib.root}) has no src/ folder`, 'a library shipped at runtime needs its sources under src/');
    const compiledLib = compileTree(libSrc, path.join(libDir, 'src'), swc);
    files += compiledLib.compiled.length + compiledLib.copied.length + copyAssets(workspaceRoot, lib.root, libDir).length;
    const libPkg = readJson<ProjectPackage>(path.join(workspaceRoot, lib.root, 'package.json'));
    const main = (libPkg.main ?? 'src/index.ts').replace(/\.[cm]?ts$/, '.js');
    if (!fs.existsSync(path.join(libDir, main))) throw new BuildToolError(`${lib.name}: its main ${libPkg.main} compiled to nothing`, 'point main at src/index.ts');
    writeJson(path.join(libDir, 'package.json'), {
      name: libPkg.name,
      version: libPkg.version ?? '0.0.0',
      private: true,
      ...(libPkg.description ? { description: libPkg.description } : {}),
      main,
      // What run-time discovery reads (a carving library's `carvableContext`).
      ...(libPkg.carve ? { carve: libPkg.carve } : {}),
    });
    files++;
    libraries.set(lib.name, { project: lib.name, packageName, dir: posixRelative(outDir, libDir) });
    units.push({ owner: lib, files: compiledLib.compiled });
    log(`  lib   ${lib.name} -> ${posixRelative(workspaceRoot, libDir)}`);
  };

  // The carving libraries it loads by discovery (no require names them): shipped all the same.
  for (const lib of carvingLibraries(ws, name)) addLibrary(lib);

  for (let i = 0; i < units.length; i++) {
    const { owner, files: compiled } = units[i];
    for (const file of compiled) {
      const scan = scanRequires(file.code);
      dynamicRequires += scan.dynamic;
      if (scan.dynamic > 0) warnings.push(`${owner.root}/src/${file.source}: ${scan.dynamic} require() with a computed argument, not followed`);
      for (const req of scan.requires) {
        const spec = classifySpecifier(req.specifier);
        const where = `${owner.root}/src/${file.source}`;
        if (spec.kind === 'builtin') continue;
        if (spec.kind === 'relative') {
          if (!resolvesLocally(file.output, req.specifier)) {
            throw new BuildToolError(`${where} requires ${req.specifier}, which is not in the build output`, 'only src/ is compiled: move the file under src/ or ship it as an asset');
          }
          continue;
        }
        if (spec.kind === 'package') {
          if (!packages.has(spec.packageName!)) packages.set(spec.packageName!, new Set());
          packages.get(spec.packageName!)!.add(where);
          continue;
        }
        // A workspace library.
        const lib = ws.byPackageName.get(spec.packageName!);
        if (!lib) throw new BuildToolError(`${where} requires ${spec.packageName}, which is no Nx project`, 'check the package name in the library\'s package.json');
        if (lib.name === name) throw new BuildToolError(`${where} requires its own package ${spec.packageName}`, 'use a relative import');
        if (!closure.has(lib.name)) {
          throw new BuildToolError(`${where} requires ${spec.packageName}, but the Nx graph has no dependency from ${name} to ${lib.name}`, 'run `npx nx reset` and build again; affected builds rely on that edge');
        }
        if (spec.subpath) pendingSubpaths.push({ from: where, lib: lib.name, subpath: spec.subpath });
        addLibrary(lib);
      }
    }
  }

  for (const { from, lib, subpath } of pendingSubpaths) {
    const libDir = path.join(outDir, libraries.get(lib)!.dir);
    if (!resolvesLocally(path.join(libDir, 'x'), `.${subpath}`)) {
      throw new BuildToolError(`${from} requires ${lib}${subpath}, which is not in the build output`, 'import the library\'s index instead of a file inside it');
    }
  }

  // 3. The runtime package.json: exact versions from the root package.json.
  const dependencies: Record<string, string> = {};
  const fromDevDependencies: string[] = [];
  for (const [dep, users] of [...packages].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const prod = rootPkg.dependencies?.[dep];
    const dev = rootPkg.devDependencies?.[dep];
    if (!prod && !dev) {
      throw new BuildToolError(
        `${dep} is required by ${[...users][0]} but the root package.json does not list it`,
        `add it: flock /tmp/carve-npm.lock npm install --save-exact ${dep}@<version>`,
      );
    }
    if (!prod) {
      fromDevDependencies.push(dep);
      warnings.push(`${dep} is required at runtime (${[...users][0]}) but listed in devDependencies: move it to dependencies`);
    }
    dependencies[dep] = (prod ?? dev)!;
  }

  const runtimeName = pkg.name;
  const lock = readJson<Lockfile>(path.join(workspaceRoot, 'package-lock.json'));
  const pruned = pruneLockfile(lock, { name: runtimeName, version: pkg.version ?? '0.0.0', dependencies, engines: rootPkg.engines });
  const installedNames = new Set(pruned.installed.map((k) => k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length)));
  const allowScripts = Object.fromEntries(Object.entries(rootPkg.allowScripts ?? {}).filter(([n]) => installedNames.has(n)));

  writeJson(path.join(outDir, 'package.json'), {
    name: runtimeName,
    version: pkg.version ?? '0.0.0',
    private: true,
    description: `Runtime dependencies of ${name}, generated by tools/build from what its compiled code requires: do not edit.`,
    license: 'UNLICENSED',
    ...(rootPkg.engines ? { engines: rootPkg.engines } : {}),
    dependencies,
    ...(Object.keys(allowScripts).length > 0 ? { allowScripts: sortKeys(allowScripts) } : {}),
  });
  writeJson(path.join(outDir, 'package-lock.json'), pruned.lockfile);

  const entries = ['main', 'migrate']
    .map((e) => path.join(appOut, 'dist', `${e}.js`))
    .filter((f) => fs.existsSync(f))
    .map((f) => posixRelative(outDir, f));
  const manifest: BuildManifest = {
    project: name,
    root: project.root,
    entries,
    bins,
    libraries: [...libraries.values()].sort((a, b) => a.project.localeCompare(b.project)),
    bundles,
    dependencies,
    fromDevDependencies,
    dynamicRequires,
    files: files + 3,
  };
  writeJson(path.join(outDir, MANIFEST_FILE), manifest);
  return { outDir, manifest, warnings };
}

/** Reads a build's carve-build.json, or undefined when the project has not been built. */
export function readManifest(outDir: string): BuildManifest | undefined {
  const file = path.join(outDir, MANIFEST_FILE);
  return fs.existsSync(file) ? readJson<BuildManifest>(file) : undefined;
}
