import type { MessagingLogger } from '@carve/shared-messaging';
import type { EventsConfig, Platform } from '../config';

/** What the event backbone of the monolith needs from createApp. */
export interface EventsOptions {
  /** The monolith's database, with its TLS mode in the URL (urlWithSsl): the relay and the transport open their own connections. */
  readonly databaseUrl: string;
  readonly platform: Platform;
  readonly events: EventsConfig;
  readonly logger: MessagingLogger;
}

export const EVENTS_OPTIONS = Symbol('EVENTS_OPTIONS');
