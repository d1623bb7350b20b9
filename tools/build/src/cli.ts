import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { buildProject } from './build';
import { formatIssues, lintDockerfile } from './dockerfile-lint';
import { dockerfilePath, imageProjects, isGenerated, renderAppDockerfile } from './dockerfile-template';
import { BuildToolError } from './errors';
import { bundledUis, loadWorkspace, projectOrThrow } from './graph';
import { DIST_DIR, outDirFor, posixRelative, WORKSPACE_ROOT } from './paths';

/*
 * carve-build: the Nx `build` target of every deployable (inferred by tools/build/nx-plugin.js)
 * and the Dockerfile checks.
 *   carve-build build <project...>            compile into dist/<root>/ with the runtime package.json
 *   carve-build dockerfile <project> [--write]  print (or write) an app's Dockerfile from templates/app.Dockerfile
 *   carve-build lint-dockerfiles [project...]   check the Dockerfiles against the rules and the build output
 *   carve-build images [project...] [--from-plan <plan.json>]
 *                                               "<project> <Dockerfile> <build output>" per project with an image (CI)
 */

export function buildProgram(): Command {
  const program = new Command('carve-build').description('Build Carve deployables into dist/ and check their Dockerfiles').showHelpAfterError();

  program
    .command('build')
    .argument('<projects...>', 'Nx project names')
    .option('-q, --quiet', 'print only the summary line')
    .action(async (projects: string[], opts: { quiet?: boolean }) => {
      const workspace = await loadWorkspace();
      for (const name of projects) {
        const started = Date.now();
        const { outDir, manifest, warnings } = await buildProject(name, { workspace, log: opts.quiet ? undefined : (l) => console.log(l) });
        for (const w of warnings) console.warn(`warn  ${w}`);
        console.log(
          `ok    ${name} -> ${path.relative(WORKSPACE_ROOT, outDir)}: ${manifest.files} files, ${manifest.libraries.length} workspace libs, ` +
            `${Object.keys(manifest.dependencies).length} npm dependencies, entries ${[...manifest.entries, ...Object.values(manifest.bins)].join(', ')} (${Date.now() - started} ms)`,
        );
      }
    });

  program
    .command('dockerfile')
    .argument('<project>', 'Nx project name of an app')
    .option('--write', 'write <root>/Dockerfile instead of printing it')
    .action(async (name: string, opts: { write?: boolean }) => {
      const ws = await loadWorkspace();
      const project = projectOrThrow(ws, name);
      const text = renderAppDockerfile(project, undefined, bundledUis(ws, name));
      if (!opts.write) {
        process.stdout.write(text);
        return;
      }
      const file = dockerfilePath(project);
      if (fs.existsSync(file) && !isGenerated(file)) throw new BuildToolError(`${posixRelative(WORKSPACE_ROOT, file)} is written by hand`, 'delete it first to generate it from the template');
      fs.writeFileSync(file, text);
      console.log(`wrote ${posixRelative(WORKSPACE_ROOT, file)}`);
    });

  program
    .command('lint-dockerfiles')
    .argument('[projects...]', 'Nx project names (default: every project with a Dockerfile)')
    .action(async (names: string[]) => {
      const ws = await loadWorkspace();
      let failed = 0;
      for (const name of names.length > 0 ? names : imageProjects(ws)) {
        const project = projectOrThrow(ws, name);
        const file = dockerfilePath(project, ws.root);
        const buildOutput = posixRelative(ws.root, outDirFor(project.root, DIST_DIR));
        const built = fs.existsSync(path.join(ws.root, buildOutput));
        const issues = lintDockerfile(file, { contextDir: ws.root, buildOutput });
        if (isGenerated(file) && fs.readFileSync(file, 'utf8') !== renderAppDockerfile(project, undefined, bundledUis(ws, name))) {
          issues.push({ rule: 'context-sources', message: `differs from tools/build/templates/app.Dockerfile: run carve-build dockerfile ${name} --write` });
        }
        const rel = posixRelative(ws.root, file);
        if (issues.length === 0) console.log(`ok    ${rel}${built ? '' : ' (not built: the build-output checks were skipped)'}`);
        else {
          failed++;
          console.error(`FAIL  ${rel}\n${formatIssues(rel, issues)}`);
        }
      }
      if (failed > 0) throw new BuildToolError(`${failed} Dockerfile(s) break the rules`, 'fix the lines named above');
    });

  program
    .command('images')
    .argument('[projects...]', 'Nx project names (default: every project with a Dockerfile)')
    .option('--from-plan <file>', 'the images of a `carve deploy plan --json` output')
    .action(async (names: string[], opts: { fromPlan?: string }) => {
      const ws = await loadWorkspace();
      const withImage = new Set(imageProjects(ws));
      let wanted = names.flatMap((n) => n.split(/[\s,]+/)).filter(Boolean);
      if (opts.fromPlan) {
        const plan = JSON.parse(fs.readFileSync(opts.fromPlan, 'utf8')) as { images?: string[] };
        if (!Array.isArray(plan.images)) throw new BuildToolError(`${opts.fromPlan} has no images list`, 'write it with carve deploy plan --json');
        wanted = [...wanted, ...plan.images];
        if (wanted.length === 0) return; // the plan deploys nothing: no image to build
      }
      for (const name of wanted.length > 0 ? [...new Set(wanted)] : [...withImage]) {
        const project = projectOrThrow(ws, name);
        if (!withImage.has(name)) continue;
        console.log(`${name} ${posixRelative(ws.root, dockerfilePath(project, ws.root))} ${posixRelative(ws.root, outDirFor(project.root, DIST_DIR))}`);
      }
    });

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof BuildToolError) {
      console.error(`carve-build: ${err.message}`);
      if (err.details) console.error(err.details);
      if (err.hint) console.error(`  next: ${err.hint}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
