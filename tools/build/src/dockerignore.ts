import * as fs from 'node:fs';
import * as path from 'node:path';

/*
 * .dockerignore matching as Docker (moby/patternmatcher) does it: patterns are cleaned paths
 * relative to the context, `*` and `?` stay within one path segment, `**` spans any number of
 * them, a pattern also matches everything under a matching directory, `!` re-includes, and the
 * last matching pattern wins.
 */

export interface IgnorePattern {
  exclusion: boolean;
  regex: RegExp;
  source: string;
}

function toRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if ('.+^${}()|[]\\'.includes(c)) re += `\\${c}`;
    else re += c;
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    if (exclusion) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    patterns.push({ exclusion, regex: toRegex(line), source: rawLine.trim() });
  }
  return patterns;
}

export function readDockerignore(contextDir: string): IgnorePattern[] {
  const file = path.join(contextDir, '.dockerignore');
  return fs.existsSync(file) ? parseDockerignore(fs.readFileSync(file, 'utf8')) : [];
}

/** True when `relPath` (relative to the context, forward slashes) is left out of the build context. */
export function isIgnored(relPath: string, patterns: IgnorePattern[]): boolean {
  const clean = path.posix.normalize(relPath).replace(/^\.\/+/, '').replace(/\/+$/, '');
  const segments = clean.split('/');
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (candidates.some((c) => p.regex.test(c))) ignored = !p.exclusion;
  }
  return ignored;
}
