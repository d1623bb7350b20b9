import { spawn } from 'node:child_process';
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

  it('shuts down when the supervising process is killed (no orphan left running)', async () => {
    const parent = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 60_000)'], { stdio: 'ignore' });
    const events: string[] = [];
    let exitedAt = 0;
    const exited = new Promise<number>((resolve) => {
      const uninstall = installGracefulShutdown(
        async () => {
          events.push('close');
        },
        { info: () => undefined, error: () => undefined } as never,
        { signals: ['SIGUSR2'], parentPid: parent.pid, parentCheckMs: 50, exit: (code) => { exitedAt = Date.now(); uninstall(); resolve(code); } },
      );
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toEqual([]); // the parent lives: nothing happens
    const killedAt = Date.now();
    parent.kill('SIGKILL');
    expect(await exited).toBe(0);
    expect(events).toEqual(['close']);
    expect(exitedAt - killedAt).toBeLessThan(5_000);
  });
});
