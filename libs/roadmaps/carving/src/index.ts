/**
 * @carve/roadmaps-carving: the roadmaps descriptor for the carving machinery. Loading this
 * library registers it (`carve status` lists it, `carve backfill roadmaps` finds it; the CLI
 * also finds it through this package's `"carve": { "carvableContext" }`).
 */
import { registerCarvableContext } from '@carve/shared-carving';
import { roadmapsCarving } from './roadmaps-context';

export * from './roadmaps-context';

registerCarvableContext(roadmapsCarving);
