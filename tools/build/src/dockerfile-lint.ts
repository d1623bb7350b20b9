import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest } from './build';
import { listFiles } from './compile';
import { copyArgs, type Dockerfile, envPairs, type Instruction, parseDockerfile, type Stage } from './dockerfile';
import { type IgnorePattern, isIgnored, readDockerignore } from './dockerignore';

/*
 * The rules every Carve image follows, checked without a Docker engine, and kept in step with
 * the build output: the files a Dockerfile copies and the command it runs must exist in
 * dist/<root>/ after `nx run <project>:build`.
 */

/** Current Node LTS line the images run on. */
export const NODE_LTS_MAJOR = 24;
/** UID (and GID) the images run as; the charts' securityContext uses the same. */
export const IMAGE_UID = 10001;
/** Where the images keep the app (the build output's layout starts here). */
export const IMAGE_WORKDIR = '/app';

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_KEY|DATABASE_URL|JWT)/i;
const URL_WITH_CREDENTIALS = /:\/\/[^/\s:@]+:[^@\s]+@/;
const DEV_FILE = /(\.(spec|test)\.[cm]?js(\.map)?$)|(\.[cm]?ts$)|(^|\/)(test|tests|__tests__)\//;

export type RuleName =
  | 'multi-stage'
  | 'base-image'
  | 'stage-ref'
  | 'user'
  | 'no-remote-add'
  | 'prefer-copy'
  | 'no-secrets'
  | 'node-env'
  | 'prod-deps'
  | 'context-sources'
  | 'no-dev-files'
  | 'cmd'
  | 'bundles';

export interface DockerfileIssue {
  rule: RuleName;
  line?: number;
  message: string;
}

export interface LintOptions {
  /** The build context: the repository root. */
  contextDir: string;
  /** The project's build output relative to the context, e.g. dist/apps/gateway. */
  buildOutput: string;
  /** Check that copied files and the CMD exist (needs a build). Default: when the build output exists. */
  checkBuild?: boolean;
  dockerignore?: IgnorePattern[];
}

export const finalStage = (df: Dockerfile): Stage => df.stages[df.stages.length - 1];

function stageByName(df: Dockerfile, name: string, before: number): Stage | undefined {
  const byIndex = /^\d+$/.test(name) ? df.stages[Number(name)] : undefined;
  const stage = byIndex ?? df.stages.find((s) => s.name === name.toLowerCase());
  return stage && stage.index < before ? stage : undefined;
}

/** WORKDIR in effect at each instruction of a stage (absolute, default /). */
function workdirs(stage: Stage): string[] {
  let wd = '/';
  return stage.instructions.map((ins) => {
    if (ins.keyword === 'WORKDIR') wd = path.posix.resolve(wd, ins.raw.trim());
    return wd;
  });
}

export function stageWorkdir(stage: Stage): string {
  const wds = workdirs(stage);
  return wds.length > 0 ? wds[wds.length - 1] : '/';
}

/** Where a file of the final image comes from. */
export type ImageSource = { kind: 'context'; path: string } | { kind: 'stage'; stage: string; path: string } | { kind: 'link'; target: string };

interface CopyMapping {
  dest: string;
  /** Context path (or stage path) that lands exactly at dest. */
  src: string;
  from?: string;
  /** dest is a directory that receives src's contents. */
  tree: boolean;
}

function copyMappings(df: Dockerfile, stage: Stage, contextDir: string): CopyMapping[] {
  const wds = workdirs(stage);
  const mappings: CopyMapping[] = [];
  stage.instructions.forEach((ins, i) => {
    if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') return;
    const { sources, dest } = copyArgs(ins);
    const destAbs = path.posix.resolve(wds[i], dest);
    const destIsDir = dest.endsWith('/') || dest === '.' || sources.length > 1;
    for (const src of sources) {
      const from = ins.flags.from;
      const srcClean = from ? src : path.posix.normalize(src).replace(/^\.\//, '');
      const isDirSource = from ? !/\.[a-z]+$/i.test(src) : fs.existsSync(path.join(contextDir, srcClean)) ? fs.statSync(path.join(contextDir, srcClean)).isDirectory() : !/\.[a-z]+$/i.test(src);
      if (isDirSource) mappings.push({ dest: destAbs, src: srcClean, from, tree: true });
      else mappings.push({ dest: destIsDir ? path.posix.join(destAbs, path.posix.basename(srcClean)) : destAbs, src: srcClean, from, tree: false });
    }
  });
  return mappings;
}

/** Symlinks the final stage makes with `ln -s <target> <link>`: link -> target (absolute). */
export function stageSymlinks(stage: Stage): Map<string, string> {
  const links = new Map<string, string>();
  const wds = workdirs(stage);
  stage.instructions.forEach((ins, i) => {
    if (ins.keyword !== 'RUN') return;
    const re = /\bln\s+-s[f]*\s+(\S+)\s+(\S+)/g;
    for (let m = re.exec(ins.raw); m; m = re.exec(ins.raw)) links.set(path.posix.resolve(wds[i], m[2]), path.posix.resolve(wds[i], m[1]));
  });
  return links;
}

/** Which COPY (the last one that covers it) provides `imagePath` in the final image. */
export function imageSource(df: Dockerfile, imagePath: string, contextDir: string): ImageSource | undefined {
  const stage = finalStage(df);
  const link = stageSymlinks(stage).get(imagePath);
  if (link) return { kind: 'link', target: link };
  const mappings = copyMappings(df, stage, contextDir).reverse();
  for (const m of mappings) {
    let rest: string | undefined;
    if (m.tree && (imagePath === m.dest || imagePath.startsWith(`${m.dest}/`))) rest = imagePath.slice(m.dest.length).replace(/^\//, '');
    else if (!m.tree && imagePath === m.dest) rest = '';
    if (rest === undefined) continue;
    const p = rest ? path.posix.join(m.src, rest) : m.src;
    return m.from ? { kind: 'stage', stage: m.from, path: p } : { kind: 'context', path: p };
  }
  return undefined;
}

/**
 * The file a command (exec form) runs in the final image: `node <script>` -> the script,
 * `<bin>` -> what the symlink on PATH points to. Returns the image path and where it comes from.
 */
export function commandTarget(df: Dockerfile, argv: string[], contextDir: string): { imagePath: string; source?: ImageSource } | undefined {
  const stage = finalStage(df);
  const wd = stageWorkdir(stage);
  if (argv.length === 0) return undefined;
  if (argv[0] === 'node') {
    const script = argv.slice(1).find((a) => !a.startsWith('-'));
    if (!script) return undefined;
    const imagePath = path.posix.resolve(wd, script);
    return { imagePath, source: imageSource(df, imagePath, contextDir) };
  }
  const onPath = argv[0].includes('/') ? path.posix.resolve(wd, argv[0]) : path.posix.join('/usr/local/bin', argv[0]);
  const link = stageSymlinks(stage).get(onPath);
  if (!link) return { imagePath: onPath };
  return { imagePath: link, source: imageSource(df, link, contextDir) };
}

function issue(issues: DockerfileIssue[], rule: RuleName, message: string, ins?: Instruction): void {
  issues.push({ rule, message, ...(ins ? { line: ins.line } : {}) });
}

function checkBaseImage(ref: string): string | undefined {
  const m = /^(?:docker\.io\/(?:library\/)?)?([a-z0-9._/-]+)(?::([A-Za-z0-9._-]+))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
  if (!m) return `base image ${ref} is not a valid reference`;
  const [, repo, tag, digest] = m;
  if (!tag) return `base image ${ref} has no tag: pin it (node:${NODE_LTS_MAJOR}-bookworm-slim@sha256:<digest>)`;
  if (tag === 'latest') return `base image ${ref} uses :latest: pin it (node:${NODE_LTS_MAJOR}-bookworm-slim@sha256:<digest>)`;
  if (repo !== 'node') return `base image ${ref}: Carve images build on the official node image`;
  const t = new RegExp(`^${NODE_LTS_MAJOR}(\\.\\d+){0,2}-[a-z]+-slim$`).exec(tag);
  if (!t) return `base image ${ref}: use the current LTS line, slim variant (node:${NODE_LTS_MAJOR}[.minor.patch]-<debian>-slim)`;
  // A tag moves; a digest names the same bytes for every rebuild.
  if (!digest) return `base image ${ref} is not pinned by digest: add @sha256:<digest> (a tag moves, so a rebuild would get other bytes)`;
  return undefined;
}

/** Lints one Dockerfile's text. */
export function lintDockerfileText(text: string, options: LintOptions): DockerfileIssue[] {
  const issues: DockerfileIssue[] = [];
  const df = parseDockerfile(text);
  const final = finalStage(df);
  const ignore = options.dockerignore ?? readDockerignore(options.contextDir);
  const checkBuild = options.checkBuild ?? fs.existsSync(path.join(options.contextDir, options.buildOutput));
  const output = options.buildOutput.replace(/\/+$/, '');

  // multi-stage: dependencies are installed in one stage, the final stage takes only the result.
  if (df.stages.length < 2) issue(issues, 'multi-stage', `one stage only: install dependencies in a deps stage and copy node_modules into the runtime stage`);
  else if (!final.instructions.some((i) => (i.keyword === 'COPY' && i.flags.from))) issue(issues, 'multi-stage', 'the final stage copies nothing from an earlier stage');

  for (const stage of df.stages) {
    if (!stageByName(df, stage.from, stage.index)) {
      const problem = checkBaseImage(stage.from);
      if (problem) issue(issues, 'base-image', problem);
    }
    stage.instructions.forEach((ins) => {
      if (ins.keyword === 'ADD') {
        const { sources } = copyArgs(ins);
        if (sources.some((s) => /^(https?|git|ssh):\/\/|^git@/.test(s))) issue(issues, 'no-remote-add', `ADD fetches ${sources.join(' ')} from the network: download in a RUN with a checksum, or vendor it`, ins);
        else issue(issues, 'prefer-copy', 'ADD unpacks archives and fetches URLs implicitly: use COPY', ins);
      }
      if (ins.keyword === 'ENV' || ins.keyword === 'ARG') {
        const pairs = ins.keyword === 'ENV' ? envPairs(ins) : [[ins.raw.split('=')[0].trim(), ins.raw.split('=').slice(1).join('=')] as [string, string]];
        for (const [name, value] of pairs) {
          if (SECRET_NAME.test(name)) issue(issues, 'no-secrets', `${ins.keyword} ${name}: secrets never go into an image (they come from the Kubernetes Secret at runtime)`, ins);
          else if (URL_WITH_CREDENTIALS.test(value)) issue(issues, 'no-secrets', `${ins.keyword} ${name} holds a URL with credentials`, ins);
        }
      }
      if (ins.keyword === 'COPY' && ins.flags.from && !stageByName(df, ins.flags.from, stage.index)) {
        issue(issues, 'stage-ref', `COPY --from=${ins.flags.from} names no earlier stage`, ins);
      }
      if (ins.keyword === 'COPY' && !ins.flags.from) {
        for (const src of copyArgs(ins).sources) {
          const rel = path.posix.normalize(src).replace(/^\.\//, '');
          if (rel !== output && !rel.startsWith(`${output}/`)) {
            issue(issues, 'context-sources', `COPY ${src}: images take only this project's build output (${output}/)`, ins);
            continue;
          }
          if (isIgnored(rel, ignore)) issue(issues, 'context-sources', `COPY ${src}: .dockerignore leaves it out of the build context`, ins);
          if (!checkBuild) continue;
          const abs = path.join(options.contextDir, rel);
          if (!fs.existsSync(abs)) {
            issue(issues, 'context-sources', `COPY ${src}: not in the build output (run the build target; does the layout still match tools/build?)`, ins);
            continue;
          }
          if (stage === final && fs.statSync(abs).isDirectory()) {
            const dev = listFiles(abs, { nodeModules: true }).map((f) => f.split(path.sep).join('/')).filter((f) => DEV_FILE.test(f) && !isIgnored(`${rel}/${f}`, ignore));
            if (dev.length > 0) issue(issues, 'no-dev-files', `COPY ${src} brings dev files into the image: ${dev.slice(0, 3).join(', ')}`, ins);
          }
        }
      }
      if (ins.keyword === 'RUN' && /\bnpm\s+(install|i|add)\b/.test(ins.raw)) {
        issue(issues, 'prod-deps', 'npm install resolves versions anew: use npm ci --omit=dev against the generated lockfile', ins);
      }
    });
  }

  // Production dependencies only: some earlier stage runs `npm ci --omit=dev` and the final stage copies its node_modules.
  const depsStage = df.stages.find((s) => s !== final && s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm\s+ci\b/.test(i.raw) && /--omit[= ]dev\b/.test(i.raw)));
  if (!depsStage) issue(issues, 'prod-deps', 'no stage runs `npm ci --omit=dev` (production dependencies only)');
  else {
    const copiesModules = final.instructions.some(
      (i) => i.keyword === 'COPY' && i.flags.from && stageByName(df, i.flags.from, final.index) === depsStage && copyArgs(i).sources.some((s) => /node_modules\/?$/.test(s)),
    );
    if (!copiesModules) issue(issues, 'prod-deps', `the final stage does not copy node_modules from the ${depsStage.name ?? depsStage.index} stage`);
  }

  // NODE_ENV=production in the final image.
  const finalEnv = new Map(final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i)));
  if (finalEnv.get('NODE_ENV') !== 'production') issue(issues, 'node-env', 'the final stage must set NODE_ENV=production');

  // A fixed non-root user.
  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const user = users[users.length - 1];
  if (!user) issue(issues, 'user', `the final stage has no USER: it would run as root (use USER ${IMAGE_UID}:${IMAGE_UID})`);
  else {
    const [uid, gid] = user.raw.trim().split(':');
    if (uid === 'root' || uid === '0' || gid === '0' || gid === 'root') issue(issues, 'user', `USER ${user.raw} is root`, user);
    else if (uid !== String(IMAGE_UID)) issue(issues, 'user', `USER ${user.raw}: run as the numeric UID ${IMAGE_UID} (what the charts' securityContext expects; numeric so runAsNonRoot can verify it)`, user);
    const after = final.instructions.slice(final.instructions.indexOf(user) + 1);
    if (after.some((i) => i.keyword === 'USER')) issue(issues, 'user', 'USER changes again after the last USER');
  }

  // CMD: exec form, and it runs something the image has.
  const cmds = final.instructions.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT');
  const cmd = final.instructions.filter((i) => i.keyword === 'CMD').pop();
  for (const c of cmds) {
    if (!c.exec) issue(issues, 'cmd', `${c.keyword} in shell form: a shell would be PID 1 and swallow SIGTERM; use the exec form ["node", ...]`, c);
    else if (c.exec[0] === 'npm' || c.exec[0] === 'npx') issue(issues, 'cmd', `${c.keyword} runs ${c.exec[0]}: run node directly (npm forwards signals badly and is not in the image)`, c);
  }
  // Every web UI the build bundled (carve-build.json) reaches the image where the app looks for it.
  if (checkBuild) {
    for (const ui of readManifest(path.join(options.contextDir, output))?.bundles ?? []) {
      const imagePath = path.posix.join(stageWorkdir(final), ui.dir, 'index.html');
      const source = imageSource(df, imagePath, options.contextDir);
      if (source?.kind !== 'context' || !fs.existsSync(path.join(options.contextDir, source.path))) {
        issue(issues, 'bundles', `${ui.project} (bundled in ${output}/${ui.dir}/) is not copied to ${path.posix.dirname(imagePath)}/, where the app serves it from: COPY ${output}/${ui.dir.split('/')[0]} ./${ui.dir.split('/')[0]}`);
      }
    }
  }

  if (!cmd) issue(issues, 'cmd', 'the final stage has no CMD');
  else if (cmd.exec && checkBuild && !['npm', 'npx'].includes(cmd.exec[0])) {
    const target = commandTarget(df, cmd.exec, options.contextDir);
    const problem = commandProblem(target, options.contextDir, cmd.exec);
    if (problem) issue(issues, 'cmd', problem, cmd);
  }
  return issues;
}

/** Why `argv` would not run in the final image (after a build), or undefined when it would. */
export function commandProblem(target: ReturnType<typeof commandTarget>, contextDir: string, argv: string[]): string | undefined {
  const shown = JSON.stringify(argv);
  if (!target) return `${shown}: nothing to run`;
  if (!target.source) return `${shown} runs ${target.imagePath}, which no COPY puts into the image`;
  if (target.source.kind === 'stage') return undefined; // made by an earlier stage (node_modules)
  if (target.source.kind === 'link') return `${shown}: ${target.imagePath} is a link to a link`;
  if (!fs.existsSync(path.join(contextDir, target.source.path))) return `${shown} runs ${target.imagePath}, copied from ${target.source.path}, which the build did not produce`;
  return undefined;
}

export function lintDockerfile(file: string, options: LintOptions): DockerfileIssue[] {
  return lintDockerfileText(fs.readFileSync(file, 'utf8'), options);
}

export function formatIssues(file: string, issues: DockerfileIssue[]): string {
  return issues.map((i) => `${file}${i.line ? `:${i.line}` : ''}  [${i.rule}] ${i.message}`).join('\n');
}
