import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { MessagingLogger } from '@carve/shared-messaging';
import { dataSourceOptions } from '@carve/shared-persistence';
import { sslOption, type MonolithConfig, urlWithSsl } from './config';
import { legacyDataSourceSpec } from './database/legacy-data-source';
import { EventsModule } from './events/events.module';
import type { ReverseSyncHandlers } from './events/reverse-sync';
import { ReverseSyncModule } from './events/reverse-sync.module';
import { FeaturesModule } from './features/features.module';
import { ProblemFilter } from './http/problem.filter';
import { TenancyGuard } from './http/tenancy.guard';
import { NotesModule } from './notes/notes.module';
import { ReleasesModule } from './releases/releases.module';
import { WorkspacesModule } from './workspaces/workspaces.module';

export interface AppModuleExtras {
  logger: MessagingLogger;
  /** Reverse-sync handlers per topic; default the registered ones (`reverseSyncHandlers`). */
  reverseSyncHandlers?: ReverseSyncHandlers;
}

/**
 * The monolith, one Nest module per bounded context. Reading this list is reading the product:
 * tenancy (workspaces, members), features, insights (notes), roadmaps (releases); then the event
 * backbone (the embedded relay of legacy.outbox, the reverse sync to come).
 */
@Module({})
export class AppModule {
  static forRoot(config: MonolithConfig & { databaseUrl: string }, extras: AppModuleExtras): DynamicModule {
    const spec = legacyDataSourceSpec(config.databaseUrl, { ssl: sslOption(config.databaseSsl), poolSize: config.databasePoolMax });
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({ ...dataSourceOptions(spec), retryAttempts: 3, retryDelay: 1000 }),
        WorkspacesModule,
        FeaturesModule,
        NotesModule,
        ReleasesModule,
        EventsModule.forRoot({
          databaseUrl: urlWithSsl(config.databaseUrl, config.databaseSsl),
          platform: config.platform,
          events: config.events,
          logger: extras.logger,
        }),
        ReverseSyncModule.forRoot(extras.reverseSyncHandlers),
      ],
      providers: [
        { provide: APP_GUARD, useClass: TenancyGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
