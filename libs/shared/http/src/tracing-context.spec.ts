import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { SynchronousContextManager } from './tracing';

const KEY = createContextKey('test');
const ctxOf = (v: string) => ROOT_CONTEXT.setValue(KEY, v);
const valueIn = (m: SynchronousContextManager) => m.active().getValue(KEY);

describe('SynchronousContextManager', () => {
  it('makes a context active for the synchronous run of `with` only, nested, and restores it after a throw', () => {
    const m = new SynchronousContextManager();
    expect(m.active()).toBe(ROOT_CONTEXT);
    const seen: unknown[] = [];
    const r = m.with(ctxOf('a'), (x: number) => {
      seen.push(valueIn(m));
      m.with(ctxOf('b'), () => seen.push(valueIn(m)));
      seen.push(valueIn(m));
      return x * 2;
    }, undefined, 21);
    expect([r, seen, valueIn(m)]).toEqual([42, ['a', 'b', 'a'], undefined]);
    expect(() => m.with(ctxOf('c'), () => {
      throw new Error('boom');
    })).toThrow('boom');
    expect(m.active()).toBe(ROOT_CONTEXT);
  });

  it('passes `this` and the arguments, and does not carry the context past an await', async () => {
    const m = new SynchronousContextManager();
    const self = { n: 1 };
    expect(m.with(ctxOf('a'), function (this: typeof self, k: number) {
      return this.n + k;
    }, self, 2)).toBe(3);
    const after = await m.with(ctxOf('a'), async () => {
      const before = valueIn(m);
      await Promise.resolve();
      return [before, valueIn(m)];
    });
    expect(after).toEqual(['a', undefined]);
  });

  it('binds a function to a context (each call runs in it) and leaves anything else as it is', () => {
    const m = new SynchronousContextManager();
    const bound = m.bind(ctxOf('x'), function (this: { k: string }, y: string) {
      return `${this.k}:${y}:${String(valueIn(m))}`;
    });
    expect(bound.call({ k: 'self' }, 'arg')).toBe('self:arg:x');
    expect(valueIn(m)).toBeUndefined();
    const emitter = { on: () => undefined };
    expect(m.bind(ctxOf('x'), emitter)).toBe(emitter);
  });

  it('forgets the active context when disabled', () => {
    const m = new SynchronousContextManager().enable();
    m.with(ctxOf('a'), () => {
      m.disable();
      expect(m.active()).toBe(ROOT_CONTEXT);
    });
  });
});
