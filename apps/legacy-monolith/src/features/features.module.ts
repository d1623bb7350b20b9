import { Module } from '@nestjs/common';
import { CommentsController, FeaturesController } from './features.controller';
import { CommentsService, FeaturesService } from './features.service';

/** Features and their comments. Stays in the monolith. */
@Module({
  controllers: [FeaturesController, CommentsController],
  providers: [FeaturesService, CommentsService],
})
export class FeaturesModule {}
