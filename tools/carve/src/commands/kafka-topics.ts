import type { Command } from 'commander';
import { ConfigError } from '@carve/shared-config';
import { createKafkaTransport, describeKafkaError, ensureTopics, kafkaSecurityFromEnv, loadTopicDeclarations, TOPICS_FILE, TopicDeclarationError } from '@carve/shared-messaging';
import { CliError } from '../cli-error';

/**
 * `carve kafka ensure-topics`: creates the topics declared in libs/shared/messaging/topics.yaml
 * (with their DLQs) that the cluster lacks, and reports the ones whose settings differ. Added
 * under `carve kafka` by kafka.ts.
 */
export function registerKafkaTopics(kafka: Command): void {
  kafka
    .command('ensure-topics')
    .description('create the declared topics (libs/shared/messaging/topics.yaml) that are missing; report differing ones')
    .option('--brokers <list>', 'bootstrap servers (default: KAFKA_BROKERS, else the local broker 127.0.0.1:9092)')
    .option('--file <path>', 'topic declaration file', TOPICS_FILE)
    .option('--json', 'print the report as JSON')
    .option('--strict', 'exit 1 if an existing topic differs from its declaration')
    .action(async (opts: { brokers?: string; file: string; json?: boolean; strict?: boolean }) => {
      let declarations;
      try {
        declarations = loadTopicDeclarations(opts.file);
      } catch (err) {
        if (err instanceof TopicDeclarationError) throw new CliError(err.message, `fix ${opts.file}`);
        throw err;
      }
      const brokers = (opts.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
      let security;
      try {
        security = kafkaSecurityFromEnv();
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 'see docs/events.md, "Kafka security"');
        throw err;
      }
      const transport = createKafkaTransport({ brokers, clientId: 'carve-ensure-topics', security });
      let report;
      try {
        report = await ensureTopics(transport, declarations);
      } catch (err) {
        // Says what failed: TLS, SASL authentication, authorization, or no broker at all.
        const failure = describeKafkaError(err, security, brokers);
        throw new CliError(`could not ensure topics: ${failure.message}`, failure.kind === 'other' ? 'is the broker up? (carve kafka up, or set KAFKA_BROKERS)' : failure.hint);
      } finally {
        await transport.close();
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const t of report.created) process.stdout.write(`created   ${t}\n`);
        for (const t of report.existing) process.stdout.write(`exists    ${t}\n`);
        for (const m of report.mismatched) process.stdout.write(`DIFFERS   ${m.topic}: ${m.setting} is ${m.actual}, declared ${m.declared}\n`);
        for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
        process.stdout.write(`${report.created.length} created, ${report.existing.length} existing, ${report.mismatched.length} differing\n`);
      }
      if (opts.strict && report.mismatched.length > 0) throw new CliError(`${report.mismatched.length} topic setting(s) differ from ${opts.file}`, 'change the declaration, or migrate the topic by hand');
    });
}
