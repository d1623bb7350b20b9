import { Module } from '@nestjs/common';
import { PlannedFeaturesController, ReleasesController } from './releases.controller';
import { ReleasesService } from './releases.service';

/** Roadmaps: releases and the features planned in them. The second context to be carved out. */
@Module({
  controllers: [ReleasesController, PlannedFeaturesController],
  providers: [ReleasesService],
})
export class ReleasesModule {}
