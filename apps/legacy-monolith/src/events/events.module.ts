import { type DynamicModule, Global, Module } from '@nestjs/common';
import { EVENTS_OPTIONS, type EventsOptions } from './events.options';
import { OutboxRelayService } from './outbox-relay.service';

/**
 * The monolith on the event backbone (docs/events.md, "The monolith"): the services append
 * their events to legacy.outbox themselves (`emitLegacyEvents`, in each write's transaction);
 * this module holds the options and runs the embedded relay (CARVE_RELAY).
 */
@Global()
@Module({})
export class EventsModule {
  static forRoot(options: EventsOptions): DynamicModule {
    return {
      module: EventsModule,
      providers: [{ provide: EVENTS_OPTIONS, useValue: options }, OutboxRelayService],
      exports: [EVENTS_OPTIONS, OutboxRelayService],
    };
  }
}
