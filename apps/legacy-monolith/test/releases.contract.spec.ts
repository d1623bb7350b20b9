/**
 * The releases HTTP contract (@carve/roadmaps-releases-contract), run against the monolith: the
 * same suite the roadmaps service passes (apps/roadmaps-service/test/releases.contract.spec.ts),
 * so both sides answer every case the same way. Features go through the monolith's own API; the
 * releases with tied timestamps are inserted as rows, as old data would be.
 */
import { randomUUID } from 'node:crypto';
import { describeReleasesContract } from '@carve/roadmaps-releases-contract';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { type Harness, startHarness } from './support';

let h: Harness;
let baseUrl: string;
beforeAll(async () => {
  h = await startHarness('legacy_releases_contract');
  await h.app.listen(0, '127.0.0.1');
  baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(async () => {
  await h?.close();
});

describeReleasesContract({
  name: 'legacy-monolith',
  baseUrl: () => baseUrl,
  async workspace() {
    const id = randomUUID();
    await h.ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [id, 'Contract', `contract-${id.slice(0, 8)}`]);
    const users = { admin: randomUUID(), maker: randomUUID(), viewer: randomUUID() };
    return { id, token: (role = 'admin') => signToken({ sub: users[role], tid: id, role }, DEV_JWT_SECRET) };
  },
  async features(ws, titles) {
    const ids: string[] = [];
    for (const title of titles) {
      const res = await h.api('POST', `/api/v1/workspaces/${ws.id}/features`, { token: ws.token(), body: { title } });
      if (res.status !== 201) throw new Error(`feature ${title}: ${res.status} ${JSON.stringify(res.body)}`);
      ids.push(res.body.id);
    }
    return ids;
  },
  async seedReleases(ws, releases) {
    for (const r of releases) {
      await h.ds.query(
        `INSERT INTO legacy.releases (id, workspace_id, name, description, starts_on, ends_on, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [r.id, ws.id, r.name, r.description, r.startsOn, r.endsOn, r.state, r.createdAt, r.updatedAt],
      );
    }
  },
  bodyLimitBytes: 256 * 1024,
});
