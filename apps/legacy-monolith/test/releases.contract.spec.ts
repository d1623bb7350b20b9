/**
 * The releases HTTP contract (@carve/roadmaps-api-contract), run against the monolith: the
 * same suite the roadmaps service passes (apps/roadmaps-service/test/releases.contract.spec.ts),
 * so both sides answer every case the same way. Features go through the monolith's own API; the
 * releases with tied timestamps are inserted as rows, as old data would be.
 */
import { describeReleasesContract } from '@carve/roadmaps-api-contract';
import { monolithContractTarget } from './support';

const monolith = monolithContractTarget('legacy_releases_contract');

describeReleasesContract({
  ...monolith.target,
  async seedReleases(ws, releases) {
    for (const r of releases) {
      await monolith.harness().ds.query(
        `INSERT INTO legacy.releases (id, workspace_id, name, description, starts_on, ends_on, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [r.id, ws.id, r.name, r.description, r.startsOn, r.endsOn, r.state, r.createdAt, r.updatedAt],
      );
    }
  },
  bodyLimitBytes: 256 * 1024,
});
