import { type DynamicModule, Module } from '@nestjs/common';
import { REVERSE_SYNC_HANDLERS, type ReverseSyncHandlers, reverseSyncHandlers, ReverseSyncService } from './reverse-sync';

/**
 * Where the monolith consumes the carved services' events (reverse sync, see reverse-sync.ts).
 * `ReverseSyncModule.forRoot()` uses the handlers registered in `reverseSyncHandlers` (Insights'
 * and Roadmaps'); tests pass their own. Runs only with CARVE_REVERSE_SYNC=true.
 */
@Module({})
export class ReverseSyncModule {
  static forRoot(handlers: ReverseSyncHandlers = reverseSyncHandlers): DynamicModule {
    return {
      module: ReverseSyncModule,
      providers: [{ provide: REVERSE_SYNC_HANDLERS, useValue: handlers }, ReverseSyncService],
      exports: [ReverseSyncService],
    };
  }
}
