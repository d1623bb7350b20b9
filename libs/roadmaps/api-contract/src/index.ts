/**
 * @carve/roadmaps-api-contract: the releases HTTP API as one executable suite both sides
 * run (the monolith: apps/legacy-monolith/test/releases.contract.spec.ts; the roadmaps service:
 * apps/roadmaps-service/test/releases.contract.spec.ts). Tagged scope:roadmaps + type:contracts:
 * the context's public face on the wire, importable by the monolith, importing nothing but Node
 * and @carve/shared-contract-kit.
 */
export * from './releases.contract';
export * from './releases.api';
