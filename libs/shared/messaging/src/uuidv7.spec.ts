import { isUuidV7, uuidv7, uuidv7Time } from './uuidv7';

describe('uuidv7', () => {
  it('has the RFC 9562 layout: version 7, variant 10, the timestamp in the first 48 bits', () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isUuidV7(id)).toBe(true);
    expect(uuidv7Time(id)).toBe(at);
    expect(new Date(uuidv7Time(uuidv7())).getFullYear()).toBeGreaterThanOrEqual(2025);
  });

  it('is unique and sorts in creation order, also many per millisecond and when the clock steps back', () => {
    const ids: string[] = [];
    const t = Date.now() + 10_000; // ahead of anything generated so far in this process
    for (let i = 0; i < 20_000; i++) ids.push(uuidv7(t)); // > 4096 in one ms: borrows the next ms
    ids.push(uuidv7(t - 5_000)); // clock went back: still after the previous ids
    for (let i = 0; i < 1_000; i++) ids.push(uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('rejects what is not a UUIDv7', () => {
    expect(isUuidV7('0190c1a6-3b2c-4d5e-8f00-112233445566')).toBe(false); // version 4 nibble
    expect(isUuidV7('not-a-uuid')).toBe(false);
    expect(() => uuidv7Time('x')).toThrow('not a UUIDv7');
  });
});
