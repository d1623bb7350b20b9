import { installGracefulShutdown } from './shutdown';

describe('installGracefulShutdown', () => {
  it('drains, closes, then exits 0 on SIGTERM', async () => {
    const events: string[] = [];
    const exited = new Promise<number>((resolve) => {
      const uninstall = installGracefulShutdown(
        async () => {
          events.push('close');
        },
        { info: () => undefined, error: () => undefined } as never,
        { signals: ['SIGUSR2'], onBegin: () => events.push('drain'), exit: (code) => { uninstall(); resolve(code); } },
      );
    });
    process.emit('SIGUSR2' as never);
    expect(await exited).toBe(0);
    expect(events).toEqual(['drain', 'close']);
  });

  it('exits 1 when closing fails', async () => {
    const exited = new Promise<number>((resolve) => {
      const uninstall = installGracefulShutdown(
        async () => {
          throw new Error('consumer would not stop');
        },
        { info: () => undefined, error: () => undefined } as never,
        { signals: ['SIGUSR2'], exit: (code) => { uninstall(); resolve(code); } },
      );
    });
    process.emit('SIGUSR2' as never);
    expect(await exited).toBe(1);
  });
});
