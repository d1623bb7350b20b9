import { isBuiltin } from 'node:module';
import { parseSync } from '@swc/core';

/** One `require(...)` / `require.resolve(...)` found in compiled code. */
export interface RequireCall {
  specifier: string;
  /** `require.resolve` only locates a file; `require` loads it. */
  resolveOnly: boolean;
}

export interface ScanResult {
  requires: RequireCall[];
  /** Calls whose argument is not a string literal: the builder cannot follow them. */
  dynamic: number;
}

type Node = Record<string, unknown> & { type?: string };

function stringArg(call: Node): string | undefined | null {
  const args = call.arguments as Array<{ expression: Node }> | undefined;
  if (!args || args.length === 0) return null;
  const expr = args[0].expression;
  if (expr?.type === 'StringLiteral') return expr.value as string;
  if (expr?.type === 'TemplateLiteral' && (expr.expressions as unknown[]).length === 0) {
    const quasis = expr.quasis as Array<{ cooked?: string; raw: string }>;
    return quasis[0]?.cooked ?? quasis[0]?.raw;
  }
  return undefined;
}

function isIdentifier(node: unknown, name: string): boolean {
  const n = node as Node | undefined;
  return n?.type === 'Identifier' && n.value === name;
}

/**
 * The modules a compiled CommonJS file loads, read from its syntax tree (not a regex, so
 * comments and strings that merely mention `require('x')` do not count). Type-only imports are
 * already gone after SWC; decorator metadata references stay, as they load at runtime.
 */
export function scanRequires(code: string): ScanResult {
  const ast = parseSync(code, { syntax: 'ecmascript', target: 'es2022' }) as unknown as Node;
  const requires: RequireCall[] = [];
  let dynamic = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const n = node as Node;
    if (n.type === 'CallExpression') {
      const callee = n.callee as Node;
      const plain = isIdentifier(callee, 'require');
      const resolve = callee?.type === 'MemberExpression' && isIdentifier(callee.object, 'require') && isIdentifier(callee.property, 'resolve');
      if (plain || resolve) {
        const spec = stringArg(n);
        if (typeof spec === 'string') requires.push({ specifier: spec, resolveOnly: resolve });
        else if (spec === undefined) dynamic++;
      }
    }
    for (const [key, value] of Object.entries(n)) {
      if (key !== 'span' && value && typeof value === 'object') visit(value);
    }
  };
  visit(ast);
  return { requires, dynamic };
}

export type SpecifierKind = 'builtin' | 'relative' | 'workspace' | 'package';

export interface ClassifiedSpecifier {
  kind: SpecifierKind;
  /** npm package name (scope included) for `workspace` and `package`. */
  packageName?: string;
  /** The part after the package name (`/src/x`), if any. */
  subpath?: string;
}

export function classifySpecifier(spec: string, workspaceScope = '@carve/'): ClassifiedSpecifier {
  if (spec.startsWith('node:') || isBuiltin(spec)) return { kind: 'builtin' };
  if (spec.startsWith('.') || spec.startsWith('/')) return { kind: 'relative' };
  const parts = spec.split('/');
  const nameParts = spec.startsWith('@') ? 2 : 1;
  const packageName = parts.slice(0, nameParts).join('/');
  const subpath = parts.length > nameParts ? `/${parts.slice(nameParts).join('/')}` : undefined;
  return { kind: packageName.startsWith(workspaceScope) ? 'workspace' : 'package', packageName, subpath };
}
