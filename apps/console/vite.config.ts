// The console's build: static files under dist/apps/console, served by the gateway's admin
// server at /console/ (apps/gateway/src/routes/console.routes.ts).
import path from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: __dirname,
  base: '/console/',
  build: {
    outDir: path.join(__dirname, '../../dist/apps/console'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  logLevel: 'warn',
});
