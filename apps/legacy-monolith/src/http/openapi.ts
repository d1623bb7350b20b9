/**
 * The monolith's OpenAPI document (served at /openapi.json, rendered at /docs): the platform's
 * routes and each context's API from the JSON Schemas its controllers validate with. The notes
 * API is the Insights contract's (@carve/insights-api-contract), the one the insights service
 * serves too.
 */
import { notesOperations } from '@carve/insights-api-contract';
import { openApiDocument, platformOperations } from '@carve/shared-contract-kit';

export function monolithOpenApi(version = '1.0.0') {
  return openApiDocument({ title: 'legacy-monolith', version, description: 'The monolith’s HTTP API.' }, [...notesOperations, ...platformOperations()]);
}
