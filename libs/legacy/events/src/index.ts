/**
 * @carve/legacy-events: the public face of the monolith on the wire. Each event's JSON
 * Schema and TypeScript type come from one TypeBox definition (src/events.ts); sample events per
 * version live in fixtures/, schema snapshots per major in snapshots/ (docs/events.md).
 */
export * from './contract';
export * from './shared';
export * from './events';
export * from './registry';
export * from './compatibility';
