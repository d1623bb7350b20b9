import { HelmToolError } from './errors';

/*
 * Where each environment deploys. Three AWS accounts, each with its own EKS cluster:
 *   staging     111122223333  cluster carve-staging     namespace carve, and review-<iid> per merge request
 *   production  444455556666  cluster carve-production  namespace carve
 *   ops         777788889999  cluster carve-ops         shared tooling only: the GitLab runners that
 *                                                       build images and run deploys (their IRSA role
 *                                                       assumes the deploy roles of staging and
 *                                                       production), monitoring; no Carve release
 * Account ids are placeholders, like those in the charts' values-<env>.yaml.
 */

export const AWS_REGION = 'eu-west-1';

export interface AwsAccount {
  name: 'staging' | 'production' | 'ops';
  id: string;
  cluster: string;
  /** What runs there. */
  hosts: string;
}

export const AWS_ACCOUNTS: Record<AwsAccount['name'], AwsAccount> = {
  staging: { name: 'staging', id: '111122223333', cluster: 'carve-staging', hosts: 'the staging releases (namespace carve) and every review environment (namespace review-<iid>)' },
  production: { name: 'production', id: '444455556666', cluster: 'carve-production', hosts: 'the production releases (namespace carve)' },
  ops: { name: 'ops', id: '777788889999', cluster: 'carve-ops', hosts: 'shared tooling: GitLab runners (image builds, deploy jobs), monitoring; no Carve release' },
};

export type DeployEnvironmentName = 'staging' | 'production' | 'review';

export interface DeployEnvironment {
  name: DeployEnvironmentName;
  /** values-<values>.yaml of each chart. */
  values: string;
  account: AwsAccount;
  /** Fixed namespace, or undefined when it is per merge request (review). */
  namespace?: string;
  /** Create the namespace on install (review namespaces come and go). */
  createNamespace: boolean;
  /** Review only: public host of a merge request's gateway is mr-<iid>.<suffix>. */
  reviewHostSuffix?: string;
}

export const DEPLOY_ENVIRONMENTS: Record<DeployEnvironmentName, DeployEnvironment> = {
  staging: { name: 'staging', values: 'staging', account: AWS_ACCOUNTS.staging, namespace: 'carve', createNamespace: false },
  production: { name: 'production', values: 'production', account: AWS_ACCOUNTS.production, namespace: 'carve', createNamespace: false },
  review: { name: 'review', values: 'review', account: AWS_ACCOUNTS.staging, createNamespace: true, reviewHostSuffix: 'review.staging.carve.example.com' },
};

export function deployEnvironment(name: string): DeployEnvironment {
  const env = DEPLOY_ENVIRONMENTS[name as DeployEnvironmentName];
  if (!env) throw new HelmToolError(`unknown environment ${name}`, `environments: ${Object.keys(DEPLOY_ENVIRONMENTS).join(', ')}`);
  return env;
}

/** The kubeconfig context `aws eks update-kubeconfig` creates for the environment's cluster. */
export function defaultKubeContext(env: DeployEnvironment): string {
  return `arn:aws:eks:${AWS_REGION}:${env.account.id}:cluster/${env.account.cluster}`;
}
