/** What the gateway benchmark's processes share: their arguments, the log, the targets and the upstream's body. */
import { parseArgs } from '../stats';

export const args = parseArgs(process.argv.slice(2));
export const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

export const ALL_TARGETS = ['direct', 'nginx', 'http-proxy', 'node-floor', 'gateway', 'gateway-2w', 'gateway-log', 'gateway-traced', 'shadow'] as const;
export type Target = (typeof ALL_TARGETS)[number];

export const TENANTS = 100;
/** The gateway-traced target's sampling: parent-based, this share of new traces (its clients send no traceparent). */
export const TRACED_RATIO = 0.1;
export const BODY = Buffer.from(
  JSON.stringify({
    items: Array.from({ length: 3 }, (_, i) => ({ id: i + 1, title: `Customer note ${i + 1}`, customer: 'acme', createdAt: '2025-01-01T00:00:00.000Z' })),
    nextCursor: null,
  }),
);
