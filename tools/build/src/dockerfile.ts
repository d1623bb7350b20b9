/*
 * A small Dockerfile parser: enough to lint the Carve images (stages, instructions with their
 * flags and arguments, exec-form JSON arrays, line continuations, comments). Not a full
 * implementation of the Dockerfile grammar: heredocs and the escape directive are refused.
 */
import { BuildToolError } from './errors';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** `--from=deps` -> { from: 'deps' } */
  flags: Record<string, string>;
  /** The text after the keyword and its flags, continuations joined. */
  raw: string;
  /** Exec form (`["node", "x"]`) parsed, or undefined for the shell form. */
  exec?: string[];
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** Base image reference as written, or a previous stage's name. */
  from: string;
  name?: string;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** ARGs before the first FROM. */
  globalArgs: Instruction[];
}

const FLAG = /^--([a-z-]+)(?:=(\S*))?\s*/;

function parseInstruction(text: string, line: number): Instruction {
  const m = /^([A-Za-z]+)(?:\s+|$)([\s\S]*)$/.exec(text);
  if (!m) throw new BuildToolError(`line ${line}: not an instruction: ${text.slice(0, 40)}`, 'check the Dockerfile syntax');
  const keyword = m[1].toUpperCase();
  let rest = m[2].trim();
  const flags: Record<string, string> = {};
  if (keyword !== 'RUN' || rest.startsWith('--')) {
    for (let f = FLAG.exec(rest); f; f = FLAG.exec(rest)) {
      flags[f[1]] = f[2] ?? 'true';
      rest = rest.slice(f[0].length);
    }
  }
  let exec: string[] | undefined;
  if (rest.startsWith('[')) {
    try {
      const parsed = JSON.parse(rest) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) exec = parsed as string[];
    } catch {
      // Not JSON: Docker treats it as the shell form.
    }
  }
  return { keyword, flags, raw: rest, exec, line };
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  const instructions: Instruction[] = [];
  let buffer = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (buffer === '' && (trimmed === '' || trimmed.startsWith('#'))) {
      if (/^#\s*escape\s*=/.test(trimmed) && i < 5) throw new BuildToolError('the escape parser directive is not supported', 'use the default backslash');
      continue;
    }
    if (buffer !== '' && trimmed.startsWith('#')) continue; // comment inside a continuation
    if (buffer === '') start = i + 1;
    if (/<<-?['"]?[A-Za-z_]+/.test(trimmed) && /^(RUN|COPY)\b/i.test(buffer || trimmed)) {
      throw new BuildToolError(`line ${i + 1}: heredocs are not supported by the linter`, 'use a plain RUN or COPY');
    }
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1).trim()} `;
      continue;
    }
    buffer += trimmed;
    instructions.push(parseInstruction(buffer.trim(), start));
    buffer = '';
  }
  if (buffer !== '') instructions.push(parseInstruction(buffer.trim(), start));

  const stages: Stage[] = [];
  const globalArgs: Instruction[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(ins.raw);
      if (!m) throw new BuildToolError(`line ${ins.line}: FROM needs an image (and optionally AS <name>)`, 'FROM node:24-bookworm-slim AS deps');
      stages.push({ from: m[1], name: m[2]?.toLowerCase(), index: stages.length, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new BuildToolError(`line ${ins.line}: ${ins.keyword} before the first FROM`, 'only ARG may come before FROM');
      globalArgs.push(ins);
    } else stages[stages.length - 1].instructions.push(ins);
  }
  if (stages.length === 0) throw new BuildToolError('no FROM instruction', 'a Dockerfile starts with FROM');
  return { stages, globalArgs };
}

/** Splits COPY/ADD arguments into sources and destination (exec or shell form). */
export function copyArgs(ins: Instruction): { sources: string[]; dest: string } {
  const parts = ins.exec ?? ins.raw.split(/\s+/).filter(Boolean);
  if (parts.length < 2) throw new BuildToolError(`line ${ins.line}: ${ins.keyword} needs a source and a destination`, `${ins.keyword} <src>... <dest>`);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}

/** ENV arguments as name/value pairs (`ENV A=1 B="x y"`, and the legacy `ENV A 1`). */
export function envPairs(ins: Instruction): Array<[string, string]> {
  const raw = ins.raw.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(raw)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(raw);
    return m ? [[m[1], m[2]]] : [];
  }
  const pairs: Array<[string, string]> = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    let value = m[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    pairs.push([m[1], value]);
  }
  return pairs;
}
