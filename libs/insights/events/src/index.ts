/**
 * @carve/insights-events: the insights service's public face on the wire. Its events keep the
 * monolith's data shape (reverse sync applies them as is); fixtures/ holds a sample per version,
 * snapshots/ the schema per major (same compatibility rule as @carve/legacy-events).
 */
export * from './contract';
export * from './events';
