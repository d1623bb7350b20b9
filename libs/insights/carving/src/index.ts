/**
 * @carve/insights-carving: the Insights descriptor for the carving machinery. Loading this
 * library registers it (`carve status` lists it, `carve backfill insights` finds it).
 */
import { registerCarvableContext } from '@carve/shared-carving';
import { insightsCarving } from './insights-context';

export * from './insights-context';

registerCarvableContext(insightsCarving);
