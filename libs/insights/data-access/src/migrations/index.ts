/**
 * The insights schema's migrations, in order. Expand/contract (old and new pods overlap during a
 * deploy; migrations run before the new version serves, from the init container): add first,
 * switch the code, drop in a later release. Never edit a migration that has shipped.
 */
import { InitialSchema1731000000000 } from './1731000000000-initial-schema';

export const insightsMigrations = [InitialSchema1731000000000];
