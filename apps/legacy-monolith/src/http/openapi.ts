/**
 * The monolith's OpenAPI document (served at /openapi.json, rendered at /docs): the platform's
 * routes and each context's API from the JSON Schemas its controllers validate with: its own
 * workspaces, members, features and comments (@carve/legacy-domain `api.ts`); the notes
 * API is the Insights contract's (@carve/insights-api-contract) and the releases API the Roadmaps
 * contract's (@carve/roadmaps-api-contract), the ones the carved services serve too.
 */
import { notesOperations } from '@carve/insights-api-contract';
import { monolithOperations } from '@carve/legacy-domain';
import { releasesOperations } from '@carve/roadmaps-api-contract';
import { openApiDocument, platformOperations } from '@carve/shared-contract-kit';

export function monolithOpenApi(version = '1.0.0') {
  return openApiDocument({ title: 'legacy-monolith', version, description: 'The monolith’s HTTP API.' }, [...monolithOperations, ...notesOperations, ...releasesOperations, ...platformOperations()]);
}
