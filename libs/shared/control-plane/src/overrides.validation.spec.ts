import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { ControlPlaneClient, ControlPlaneValidationError, type SetOverrideInput } from './index';

// What setOverride accepts and refuses, at each boundary: a refused change writes nothing (the
// version does not move), an accepted one is stored as given.

describe('route override validation', () => {
  let db: TestDatabase;
  let cp: ControlPlaneClient;
  const base: SetOverrideInput = { routeId: 'notes-read', mode: 'canary', percent: 10, actor: 'alice', reason: 'ramp' };

  beforeAll(async () => {
    db = await createTestDatabase('control_plane_validation');
    cp = await ControlPlaneClient.connect({ url: db.url });
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  async function refused(input: SetOverrideInput): Promise<ControlPlaneValidationError> {
    const v = await cp.version();
    const error = await cp.setOverride(input).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(await cp.version()).toBe(v);
    expect(error).toBeInstanceOf(ControlPlaneValidationError);
    return error as ControlPlaneValidationError;
  }

  it.each([0, 0.01, 99.99, 100])('accepts a canary at %p %%', async (percent) => {
    const change = await cp.setOverride({ ...base, percent });
    expect(change.override).toMatchObject({ routeId: 'notes-read', mode: 'canary', percent });
  });

  it('accepts a canary without a percent, and every mode without one', async () => {
    for (const mode of ['canary', 'monolith', 'shadow', 'service'] as const) {
      expect((await cp.setOverride({ ...base, mode, percent: undefined })).override).toMatchObject({ mode });
      expect((await cp.setOverride({ ...base, mode, percent: null })).override).toMatchObject({ mode });
    }
  });

  it.each([-0.01, 100.01, NaN, Infinity, -Infinity, '50'])('refuses percent %p', async (percent) => {
    const error = await refused({ ...base, percent: percent as number });
    expect(error).toMatchObject({ field: 'percent', message: `percent must be a number from 0 to 100, got ${JSON.stringify(percent)}` });
  });

  it.each(['monolith', 'shadow', 'service'] as const)('refuses a percent with mode %s, even 0', async (mode) => {
    expect(await refused({ ...base, mode, percent: 0 })).toMatchObject({ field: 'percent', message: `percent is only for mode canary, not ${mode}` });
  });

  it.each(['Canary', '', 'canary ', undefined])('refuses mode %p', async (mode) => {
    expect(await refused({ ...base, mode: mode as never })).toMatchObject({ field: 'mode', message: `mode must be one of monolith, shadow, canary, service, got ${JSON.stringify(mode)}` });
  });

  it.each(['routeId', 'actor', 'reason'] as const)('refuses an empty, blank, missing or too long %s, and takes 2000 characters', async (field) => {
    for (const value of ['', ' \t\n', undefined, 7]) {
      expect(await refused({ ...base, [field]: value as never })).toMatchObject({ field, message: `${field} must be a non-empty string` });
    }
    expect(await refused({ ...base, [field]: 'x'.repeat(2001) })).toMatchObject({ field, message: `${field} must be at most 2000 characters long` });
    const stored = { routeId: 'routeId', actor: 'updatedBy', reason: 'reason' }[field];
    expect((await cp.setOverride({ ...base, [field]: 'x'.repeat(2000) })).override).toMatchObject({ [stored]: 'x'.repeat(2000) });
  });
});
