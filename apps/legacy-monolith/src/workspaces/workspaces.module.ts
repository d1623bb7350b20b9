import { Module } from '@nestjs/common';
import { MembersController, WorkspacesController } from './workspaces.controller';
import { MembersService, WorkspacesService } from './workspaces.service';

/** Tenancy and identity: workspaces and their members. Stays in the monolith for now. */
@Module({
  controllers: [WorkspacesController, MembersController],
  providers: [WorkspacesService, MembersService],
  exports: [MembersService],
})
export class WorkspacesModule {}
