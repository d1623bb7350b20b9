/**
 * @carve/shared-contract-kit: the HTTP plumbing of the executable contract suites
 * (@carve/insights-api-contract, @carve/roadmaps-api-contract and those the context
 * generator scaffolds): `request` and `collectAll`.
 */
export * from './http';
