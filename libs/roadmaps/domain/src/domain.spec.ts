import { ROADMAPS_CONTEXT, CARVING_STAGES, isUuid, permissions, serviceOwnsWrites } from './index';

describe('roadmaps domain', () => {
  it('names the context as the control plane does', () => {
    expect(ROADMAPS_CONTEXT).toBe('roadmaps');
  });

  it('gives writes to the service from writes-switched on, and never for an unknown stage', () => {
    expect(CARVING_STAGES.filter((s) => serviceOwnsWrites(s))).toEqual(['writes-switched', 'complete']);
    expect(serviceOwnsWrites('sideways')).toBe(false);
    expect(serviceOwnsWrites(null)).toBe(false);
  });

  it('lets makers and admins write, viewers only read', () => {
    expect(permissions.write('admin')).toBe(true);
    expect(permissions.write('maker')).toBe(true);
    expect(permissions.write('viewer')).toBe(false);
  });

  it('knows a UUID', () => {
    expect(isUuid('00000000-0000-4000-a000-000000000001')).toBe(true);
    expect(isUuid('not-a-uuid')).toBe(false);
    expect(isUuid(42)).toBe(false);
  });
});
