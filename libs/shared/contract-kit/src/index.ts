/**
 * @carve/shared-contract-kit: the HTTP plumbing of the executable contract suites
 * (@carve/insights-notes-contract, @carve/roadmaps-releases-contract and those the context
 * generator scaffolds): `request` and `collectAll`.
 */
export * from './http';
