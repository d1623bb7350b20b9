// A require hook for TypeScript that keeps what it compiles: each .ts file is compiled once with
// SWC (the workspace's .swcrc: decorators with metadata, CommonJS) and the result is stored in
// node_modules/.cache/carve-ts, keyed by the file's path, size and mtime. A warm start reads
// JavaScript and never loads a compiler, which is what makes `npx carve --help` start fast
// (@swc-node/register loads the TypeScript compiler to read tsconfig on every start).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'carve-ts');
// Bump when the compile options below change meaning.
const HOOK_VERSION = '1';

let swc;
let options;

function compile(source, filename) {
  if (!swc) {
    swc = require('@swc/core');
    const rc = JSON.parse(fs.readFileSync(path.join(ROOT, '.swcrc'), 'utf8'));
    delete rc.$schema;
    options = { ...rc, sourceMaps: 'inline', swcrc: false, configFile: false };
  }
  return swc.transformSync(source, { ...options, filename }).code;
}

function load(module, filename) {
  const st = fs.statSync(filename);
  const key = crypto.createHash('sha1').update(`${HOOK_VERSION}\0${filename}\0${st.size}\0${st.mtimeMs}`).digest('hex');
  const cached = path.join(CACHE, key.slice(0, 2), `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    code = compile(fs.readFileSync(filename, 'utf8'), filename);
    try {
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch {
      // a read-only checkout still runs, it just compiles every time
    }
  }
  module._compile(code, filename);
}

if (!Module._extensions['.ts']) {
  Module._extensions['.ts'] = load;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
}
