import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { dataSourceOptions } from '@carve/shared-persistence';
import { sslOption, type MonolithConfig } from './config';
import { legacyDataSourceSpec } from './database/legacy-data-source';
import { FeaturesModule } from './features/features.module';
import { ProblemFilter } from './http/problem.filter';
import { TenancyGuard } from './http/tenancy.guard';
import { NotesModule } from './notes/notes.module';
import { ReleasesModule } from './releases/releases.module';
import { WorkspacesModule } from './workspaces/workspaces.module';

/**
 * The monolith, one Nest module per bounded context. Reading this list is reading the product:
 * tenancy (workspaces, members), features, insights (notes), roadmaps (releases).
 */
@Module({})
export class AppModule {
  static forRoot(config: MonolithConfig & { databaseUrl: string }): DynamicModule {
    const spec = legacyDataSourceSpec(config.databaseUrl, { ssl: sslOption(config.databaseSsl), poolSize: config.databasePoolMax });
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({ ...dataSourceOptions(spec), retryAttempts: 3, retryDelay: 1000 }),
        WorkspacesModule,
        FeaturesModule,
        NotesModule,
        ReleasesModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: TenancyGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
