import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTopicDeclarations, TopicDeclarationError } from './topics';

describe('topic declarations', () => {
  it('declares every legacy topic, each with its DLQ, compacted state topics kept forever', () => {
    const decls = loadTopicDeclarations();
    const names = decls.map((d) => d.name);
    for (const agg of ['workspaces', 'members', 'features', 'notes', 'note-feature-links', 'releases']) {
      expect(names).toContain(`legacy.${agg}.v1`);
      expect(names).toContain(`legacy.${agg}.v1.dlq`);
    }
    expect(decls.find((d) => d.name === 'legacy.notes.v1')).toMatchObject({ partitions: 3, cleanupPolicy: 'compact', retentionMs: -1 });
    expect(decls.find((d) => d.name === 'legacy.notes.v1.dlq')).toMatchObject({ partitions: 1, cleanupPolicy: 'delete', retentionMs: 1209600000 });
  });

  it('names the file and the problem of a bad declaration', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'topics-')), 'topics.yaml');
    fs.writeFileSync(file, 'topics:\n  - name: Legacy_Notes\n');
    expect(() => loadTopicDeclarations(file)).toThrow(new TopicDeclarationError(file, 'topic "Legacy_Notes" must be named <source>.<aggregate>.v<major> (lower-case kebab-case)'));
    fs.writeFileSync(file, 'topics:\n  - name: a.b.v1\n    cleanupPolicy: keep\n');
    expect(() => loadTopicDeclarations(file)).toThrow('topics.yaml: a.b.v1: cleanupPolicy must be one of delete, compact, compact,delete');
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
