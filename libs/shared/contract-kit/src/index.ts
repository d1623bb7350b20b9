/**
 * @carve/shared-contract-kit: what every HTTP API and its executable contract suite shares
 * (@carve/insights-api-contract, @carve/roadmaps-api-contract and those the context generator
 * scaffolds): `request` and `collectAll`; request schemas as JSON Schema (TypeBox) validated by
 * ajv with per-field errors; OpenAPI 3.1 documents built from those schemas, the check of a
 * response against a document, the comparison of registered routes with it, and its docs page;
 * and the scaffolding of a resource's executable contract suite (`describeResourceContract`).
 */
export * from './http';
export * from './schema';
export * from './openapi';
export * from './docs-page';
export * from './contract-suite';
