import { buildProgram } from './program';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as Error & { hint?: string };
    process.stderr.write(`carve: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  next: ${e.hint}\n`);
    process.exit(typeof (e as any).exitCode === 'number' ? (e as any).exitCode : 1);
  });
