/**
 * The rendered docs in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * the page, served beside its document, lists every operation of it and loads nothing from
 * anywhere else (every request off the page's own host is refused and counted).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { type Browser, chromium } from 'playwright-core';
import { docsPage } from './docs-page';
import { openApiDocument, platformOperations, problem } from './openapi';
import { Obj, Text } from './schema';

function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
  for (const p of candidates) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("the docs page's browser test needs Debian's chromium and found none: install it with `apt-get install -y chromium`, or set CHROMIUM_PATH");
  }
}

const doc = openApiDocument({ title: 'Things <API>', version: '2.0.0' }, [
  {
    method: 'post',
    path: '/things',
    operationId: 'createThing',
    summary: 'Create a thing',
    body: Obj({ name: Text({ min: 1, max: 20 }) }),
    responses: { '201': { description: 'created', schema: Type.Object({ id: Type.String() }) }, '400': problem('invalid') },
  },
  { method: 'get', path: '/things/{id}', operationId: 'getThing', summary: 'One thing', query: { fields: Type.String() }, responses: { '200': { description: 'the thing' } } },
  ...platformOperations(),
]);

let server: http.Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  const page = docsPage(doc.info.title);
  server = http.createServer((req, res) => {
    if (req.url === '/openapi.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    else if (req.url === '/docs') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the docs page', () => {
  it('renders every operation of the document beside it, loading nothing from elsewhere', async () => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    await page.route('**/*', (route) => {
      if (route.request().url().startsWith(base)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${base}/docs`);
    await page.locator('details').first().waitFor({ timeout: 10_000 });
    expect(await page.title()).toBe('Things <API>');
    const summaries = await page.locator('details > summary').allInnerTexts();
    expect(summaries.map((s) => s.replace(/\s+/g, ' ').trim())).toEqual([
      'POST /things Create a thing',
      'GET /things/{id} One thing',
      'GET /healthz Liveness (no token)',
      'GET /readyz Readiness (dependencies reachable, not draining) (no token)',
      'GET /metrics Prometheus metrics (no token)',
      'GET /openapi.json This OpenAPI document (no token)',
      'GET /docs This document, rendered (no token)',
    ]);
    await page.locator('details#createThing > summary').click();
    const create = await page.locator('details#createThing').innerText();
    expect(create).toContain('Request body application/json');
    expect(create).toContain('"maxLength": 20');
    expect(create).toContain('application/problem+json');
    expect(create).toContain('"code"');
    await page.locator('details#getThing > summary').click();
    expect(await page.locator('details#getThing table').innerText()).toMatch(/id\s+path[\s\S]*fields\s+query/);
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});
