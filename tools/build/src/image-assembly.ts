import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listFiles } from './compile';
import { copyArgs, type Dockerfile, envPairs } from './dockerfile';
import { finalStage, stageWorkdir } from './dockerfile-lint';
import { isIgnored, readDockerignore } from './dockerignore';
import { BuildToolError } from './errors';

/*
 * Plays a Dockerfile's file-system steps without Docker, to prove the image would run: each
 * stage gets a folder standing for its root file system; WORKDIR, ENV and COPY (from the
 * context, minus what .dockerignore leaves out, or from an earlier stage) are applied; of the
 * RUN steps only `npm ci` (run for real, from the npm cache: --offline) and `ln -s` are played,
 * the rest (users, cleanup) only matter to a real image. The result is the final stage's
 * file system, so `node <CMD>` can be started from it with nothing from the repository around.
 */

export interface AssembledImage {
  /** Folder standing for the final stage's `/`. */
  rootfs: string;
  /** WORKDIR of the final stage, as a path on this machine. */
  workdir: string;
  env: Record<string, string>;
  cmd?: string[];
  /** Resolves an absolute image path (following a symlink made by ln -s) to this machine. */
  resolve(imagePath: string): string;
}

function hostPath(rootfs: string, imagePath: string): string {
  return path.join(rootfs, ...imagePath.split('/').filter(Boolean));
}

function copyInto(src: string, dest: string, filter: (rel: string) => boolean): void {
  if (fs.statSync(src).isDirectory()) {
    for (const rel of listFiles(src, { nodeModules: true })) {
      if (!filter(rel.split(path.sep).join('/'))) continue;
      const target = path.join(dest, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(src, rel), target);
      fs.chmodSync(target, fs.statSync(path.join(src, rel)).mode);
    }
  } else {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    fs.chmodSync(dest, fs.statSync(src).mode);
  }
}

/** spawn, awaited: two images can run their npm ci at the same time. */
function runAsync(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ status: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A copy of a whole tree made of hard links (fast: node_modules from the deps stage); false when unsupported. */
function hardLinkTree(src: string, dest: string): boolean {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  return spawnSync('cp', ['-a', '--link', src, dest]).status === 0;
}

export async function assembleImage(df: Dockerfile, contextDir: string, outDir: string): Promise<AssembledImage> {
  const ignore = readDockerignore(contextDir);
  fs.rmSync(outDir, { recursive: true, force: true });
  const roots = df.stages.map((s) => path.join(outDir, `stage-${s.index}${s.name ? `-${s.name}` : ''}`));
  for (const stage of df.stages) {
    const rootfs = roots[stage.index];
    fs.mkdirSync(rootfs, { recursive: true });
    let wd = '/';
    for (const ins of stage.instructions) {
      if (ins.keyword === 'WORKDIR') {
        wd = path.posix.resolve(wd, ins.raw.trim());
        fs.mkdirSync(hostPath(rootfs, wd), { recursive: true });
      } else if (ins.keyword === 'COPY') {
        const { sources, dest } = copyArgs(ins);
        const destAbs = path.posix.resolve(wd, dest);
        const destIsDir = dest.endsWith('/') || dest === '.' || sources.length > 1;
        for (const src of sources) {
          let from: string;
          let filter: (rel: string) => boolean = () => true;
          if (ins.flags.from) {
            const other = df.stages.find((s) => s.name === ins.flags.from.toLowerCase() || String(s.index) === ins.flags.from);
            if (!other || other.index >= stage.index) throw new BuildToolError(`COPY --from=${ins.flags.from}: no earlier stage`, 'fix the Dockerfile');
            from = hostPath(roots[other.index], path.posix.resolve('/', src));
          } else {
            const rel = path.posix.normalize(src).replace(/^\.\//, '');
            if (isIgnored(rel, ignore)) throw new BuildToolError(`COPY ${src}: excluded by .dockerignore`, 'fix .dockerignore or the COPY');
            from = path.join(contextDir, rel);
            filter = (r) => !isIgnored(`${rel}/${r}`, ignore);
          }
          if (!fs.existsSync(from)) throw new BuildToolError(`COPY ${src} (line ${ins.line}): ${from} does not exist`, 'build first: npx nx run <project>:build');
          const isDir = fs.statSync(from).isDirectory();
          const target = isDir ? hostPath(rootfs, destAbs) : hostPath(rootfs, destIsDir ? path.posix.join(destAbs, path.posix.basename(src)) : destAbs);
          if (ins.flags.from && isDir && !fs.existsSync(target) && hardLinkTree(from, target)) continue;
          copyInto(from, target, filter);
        }
      } else if (ins.keyword === 'RUN') {
        if (/\bnpm\s+ci\b/.test(ins.raw)) {
          const args = ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
          if (/--omit[= ]dev\b/.test(ins.raw)) args.push('--omit=dev');
          const run = await runAsync('npm', args, hostPath(rootfs, wd));
          if (run.status !== 0) {
            throw new BuildToolError(`npm ${args.join(' ')} failed in the ${stage.name ?? stage.index} stage`, 'is the npm cache filled (npm ci at the repository root)?', `${run.stdout}${run.stderr}`.trim());
          }
        }
        const re = /\bln\s+-s[f]*\s+(\S+)\s+(\S+)/g;
        for (let m = re.exec(ins.raw); m; m = re.exec(ins.raw)) {
          const link = hostPath(rootfs, path.posix.resolve(wd, m[2]));
          fs.mkdirSync(path.dirname(link), { recursive: true });
          fs.rmSync(link, { force: true });
          fs.symlinkSync(hostPath(rootfs, path.posix.resolve(wd, m[1])), link);
        }
      }
    }
  }
  const final = finalStage(df);
  const rootfs = roots[final.index];
  const env = Object.fromEntries(final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i)));
  const cmd = final.instructions.filter((i) => i.keyword === 'CMD').pop()?.exec;
  return {
    rootfs,
    workdir: hostPath(rootfs, stageWorkdir(final)),
    env,
    cmd,
    resolve: (imagePath: string) => fs.realpathSync(hostPath(rootfs, imagePath)),
  };
}
