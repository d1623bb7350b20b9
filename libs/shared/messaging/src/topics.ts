import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { dlqTopicFor, isDlqTopic } from './envelope';
import type { CleanupPolicy, EnsureTopicsReport, TopicDeclaration, Transport } from './transport';

/** The repo's one topic declaration: libs/shared/messaging/topics.yaml. */
export const TOPICS_FILE = path.resolve(__dirname, '..', 'topics.yaml');

const POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete'];
const TOPIC_NAME = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.v[1-9][0-9]*$/;

export class TopicDeclarationError extends Error {
  constructor(file: string, problem: string) {
    super(`${path.basename(file)}: ${problem}`);
    this.name = 'TopicDeclarationError';
  }
}

interface RawSettings {
  partitions?: number;
  replicationFactor?: number;
  retentionMs?: number;
  cleanupPolicy?: string;
}

/**
 * Reads and checks a topic declaration file; returns every topic and, after each, its DLQ.
 * Throws TopicDeclarationError naming the file and the first problem.
 */
export function loadTopicDeclarations(file: string = TOPICS_FILE): TopicDeclaration[] {
  const doc = parse(fs.readFileSync(file, 'utf8')) as {
    defaults?: RawSettings & { dlq?: RawSettings };
    topics?: Array<RawSettings & { name?: string; description?: string; dlq?: boolean }>;
  };
  const fail = (problem: string): never => {
    throw new TopicDeclarationError(file, problem);
  };
  const defaults = doc?.defaults ?? {};
  const settings = (where: string, s: RawSettings, base: RawSettings): Omit<TopicDeclaration, 'name'> => {
    const partitions = s.partitions ?? base.partitions ?? 1;
    const retentionMs = s.retentionMs ?? base.retentionMs ?? 604_800_000;
    const cleanupPolicy = (s.cleanupPolicy ?? base.cleanupPolicy ?? 'delete') as CleanupPolicy;
    const replicationFactor = s.replicationFactor ?? base.replicationFactor;
    if (!Number.isInteger(partitions) || partitions < 1) fail(`${where}: partitions must be a positive integer`);
    if (!Number.isInteger(retentionMs) || (retentionMs < 1 && retentionMs !== -1)) fail(`${where}: retentionMs must be positive, or -1 (forever)`);
    if (!POLICIES.includes(cleanupPolicy)) fail(`${where}: cleanupPolicy must be one of ${POLICIES.join(', ')}`);
    if (replicationFactor !== undefined && (!Number.isInteger(replicationFactor) || replicationFactor < 1)) fail(`${where}: replicationFactor must be a positive integer`);
    return { partitions, retentionMs, cleanupPolicy, ...(replicationFactor ? { replicationFactor } : {}) };
  };
  const { dlq: dlqDefaults = {}, ...topicDefaults } = defaults;
  const out: TopicDeclaration[] = [];
  const seen = new Set<string>();
  for (const [i, t] of (doc?.topics ?? []).entries()) {
    const name = t.name ?? fail(`topics[${i}] has no name`);
    if (!TOPIC_NAME.test(name) || isDlqTopic(name)) fail(`topic "${name}" must be named <source>.<aggregate>.v<major> (lower-case kebab-case)`);
    if (seen.has(name)) fail(`topic "${name}" is declared twice`);
    seen.add(name);
    out.push({ name, ...settings(name, t, topicDefaults), ...(t.description ? { description: t.description } : {}) });
    if (t.dlq !== false) {
      out.push({ name: dlqTopicFor(name), ...settings(`${name} (dlq)`, dlqDefaults, { ...topicDefaults, retentionMs: undefined, cleanupPolicy: 'delete' }), description: `dead letters of ${name}` });
    }
  }
  return out;
}

/** Creates the declared topics the transport lacks; reports created, existing and mismatched ones. */
export function ensureTopics(transport: Pick<Transport, 'ensureTopics'>, declarations: TopicDeclaration[]): Promise<EnsureTopicsReport> {
  return transport.ensureTopics(declarations);
}
