import { Module } from '@nestjs/common';
import { NoteLinksController, NotesController } from './notes.controller';
import { NotesService } from './notes.service';

/** Insights: customer notes and their links to features. The first context to be carved out. */
@Module({
  controllers: [NotesController, NoteLinksController],
  providers: [NotesService],
})
export class NotesModule {}
