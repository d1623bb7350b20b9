/**
 * Schema `roadmaps`'s migrations, in order. Expand/contract (old and new pods overlap during a
 * deploy; migrations run before the new version serves, from the init container): add first,
 * switch the code, drop in a later release. Never edit a migration that has shipped.
 */
import { InitialSchema1795893277181 } from './1795893277181-initial-schema';

export const roadmapsMigrations = [InitialSchema1795893277181];
