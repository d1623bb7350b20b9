/**
 * @carve/nx-plugin: Carve's Nx generators (generators.json). `context` lays down a new bounded
 * context carved out of the monolith; see src/generators/context/generator.ts.
 */
export { contextGenerator, ContextGeneratorError, type GeneratedContext, linkWorkspacePackages, writeContext } from './generators/context/generator';
export { FIRST_CONTEXT_PORT, FRAMEWORKS, normalizeOptions, RESERVED_NAMES, type ContextOptions } from './generators/context/options';
export { MONOLITH_AGGREGATES, type MonolithAggregate } from './generators/context/aggregates';
