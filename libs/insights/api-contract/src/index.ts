/**
 * @carve/insights-api-contract: the notes HTTP API as one executable suite both sides run.
 * Tagged scope:insights + type:contracts: the contract of the context's public face (on the
 * wire), importable by the monolith (any scope may import another's contracts) and by the
 * service, and importing nothing but Node itself and @carve/shared-contract-kit (no framework).
 */
export * from './notes.contract';
export * from './notes.api';
