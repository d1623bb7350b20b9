import { parseEnvelope } from './envelope';

// The envelope validator is compiled on first use: this file's first parse is the one that
// checks it reports every problem of a message at once, not only the first.

it('reports every problem of an envelope in one message', () => {
  const bad = { id: 'x', type: '', version: '1', aggregateVersion: 0 };
  let message = '';
  try {
    parseEnvelope(JSON.stringify(bad));
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/^not an event envelope: /);
  for (const part of ["/ must have required property 'source'", "/ must have required property 'data'", '/id must match pattern', '/type must NOT have fewer than 1 characters', '/version must match pattern', '/aggregateVersion must be >= 1']) {
    expect(message).toContain(part);
  }
});
