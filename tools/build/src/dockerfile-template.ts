import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEPLOYABLE_CHARTS } from '@carve/helm-tools';
import { BuildToolError } from './errors';
import { bundleDir, type Workspace, type WorkspaceProject } from './graph';
import { WORKSPACE_ROOT } from './paths';

/** The one Dockerfile every app image is generated from (the carve CLI's is written by hand). */
export const APP_TEMPLATE = path.join(__dirname, '..', 'templates', 'app.Dockerfile');

/** The port an app listens on, from the chart catalogue (tools/helm) that its chart is generated from. */
export function appPort(project: string): number {
  const chart = DEPLOYABLE_CHARTS.find((c) => c.app === project);
  if (!chart) throw new BuildToolError(`no chart deploys ${project}`, 'add it to DEPLOYABLE_CHARTS in tools/helm/src/catalogue.ts first');
  return chart.port;
}

/**
 * An app's Dockerfile. `bundles`: the web UIs its build bundles (`bundledUis`); the COPY of
 * <rootTop>/ takes them into the image with the compiled app, the header names them.
 */
export function renderAppDockerfile(
  project: Pick<WorkspaceProject, 'name' | 'root'>,
  port: number = appPort(project.name),
  bundles: Array<Pick<WorkspaceProject, 'name' | 'root'>> = [],
): string {
  const vars: Record<string, string> = {
    project: project.name,
    root: project.root,
    rootTop: project.root.split('/')[0],
    port: String(port),
    bundled: bundles.map((ui) => `\n# ${bundleDir(project, ui)}/ is the ${ui.name}'s build, which the app serves (bundled by the build, copied with ${project.root.split('/')[0]}/).`).join(''),
  };
  return fs.readFileSync(APP_TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in vars)) throw new BuildToolError(`the Dockerfile template uses {{${key}}}, which has no value`, `variables: ${Object.keys(vars).join(', ')}`);
    return vars[key];
  });
}

export function dockerfilePath(project: Pick<WorkspaceProject, 'root'>, root: string = WORKSPACE_ROOT): string {
  return path.join(root, project.root, 'Dockerfile');
}

/** Whether a Dockerfile was generated from the app template (its header says so). */
export function isGenerated(file: string): boolean {
  return fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('Generated from tools/build/templates/app.Dockerfile');
}

/** Projects that have a Dockerfile at their root: the deployables with an image. */
export function imageProjects(ws: Workspace): string[] {
  return [...ws.projects.values()].filter((p) => fs.existsSync(dockerfilePath(p, ws.root))).map((p) => p.name).sort();
}
