/**
 * A TypeScript type computed from a JSON Schema written `as const`, so that the route table's
 * schema is the one source of its shape: the published JSON file is generated from the same
 * object (see route-table.schema.ts) and the document types below are derived from it.
 *
 * It understands the subset the route table uses: `type` (string, number, integer, boolean,
 * array, object), `enum`, `const`, `anyOf`/`oneOf`, `items`, `properties` + `required`,
 * `additionalProperties` as a schema (a string-keyed record) and local `$ref: "#/$defs/<name>"`.
 * Anything else becomes `unknown`, which a type test would notice.
 */

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type Resolve<S, Root> = S extends { $ref: `#/$defs/${infer K}` }
  ? Root extends { $defs: infer D }
    ? K extends keyof D
      ? D[K]
      : never
    : never
  : S;

type ObjectOf<P, Req, Root> = Simplify<
  { -readonly [K in keyof P & Req]: FromSchema<P[K], Root> } & {
    -readonly [K in Exclude<keyof P, Req>]?: FromSchema<P[K], Root>;
  }
>;

type FromNode<S, Root> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { const: infer C }
    ? C
    : S extends { anyOf: readonly (infer A)[] }
      ? FromSchema<A, Root>
      : S extends { oneOf: readonly (infer A)[] }
        ? FromSchema<A, Root>
        : S extends { type: 'string' }
          ? string
          : S extends { type: 'number' | 'integer' }
            ? number
            : S extends { type: 'boolean' }
              ? boolean
              : S extends { type: 'array'; items: infer I }
                ? FromSchema<I, Root>[]
                : S extends { type: 'object'; properties: infer P }
                  ? ObjectOf<P, S extends { required: readonly (infer K)[] } ? K : never, Root>
                  : S extends { type: 'object'; additionalProperties: infer A }
                    ? A extends boolean
                      ? Record<string, unknown>
                      : Record<string, FromSchema<A, Root>>
                    : unknown;

/** The type of a value valid against the schema `S` (whose `$defs` live in `Root`). */
export type FromSchema<S, Root = S> = FromNode<Resolve<S, Root>, Root>;
