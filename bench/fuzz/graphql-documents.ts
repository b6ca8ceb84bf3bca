// GraphQL requests for the fuzzer, built from the control plane's own schema so they reach the
// resolvers: a random walk over real fields (arguments of every kind, right and wrong), with the
// hostile knobs (depth, aliases, fragments that spread each other, variables, directives) drawn by
// fast-check and shrunk by it; plus request bodies that are not GraphQL at all.
import fc from 'fast-check';
import {
  getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType,
  type GraphQLField, type GraphQLInputType, type GraphQLObjectType, type GraphQLSchema,
} from 'graphql';

export interface GraphQLRequest {
  /** The HTTP body as sent. */
  body: string;
  /** content-type header (mostly application/json). */
  contentType: string;
}

interface Knobs {
  seed: number;
  operation: 'query' | 'mutation';
  depth: number;
  width: number;
  aliases: number;
  fragments: number;
  cyclic: boolean;
  directives: number;
  variables: number;
  wrongArgs: boolean;
}

/** xorshift32: the walk's choices, reproducible from the knob seed. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const HOSTILE_LITERALS = ['""', '"x"', '0', '-1', '1e309', '2147483648', 'true', 'null', '[]', '{}', '"\\u0000"', `"${'a'.repeat(300)}"`, '"../../etc/passwd"', '"\'; DROP TABLE x; --"', 'WRONG_ENUM'];

function literal(type: GraphQLInputType, rnd: () => number, depth = 0, wrong = false): string {
  if (wrong && rnd() < 0.3) return HOSTILE_LITERALS[Math.floor(rnd() * HOSTILE_LITERALS.length)]!;
  if (isNonNullType(type)) return literal(type.ofType, rnd, depth, wrong);
  if (isListType(type)) return depth > 3 ? '[]' : `[${Array.from({ length: Math.floor(rnd() * 3) }, () => literal(type.ofType, rnd, depth + 1, wrong)).join(', ')}]`;
  if (isEnumType(type)) {
    const values = type.getValues();
    return values.length === 0 ? 'X' : values[Math.floor(rnd() * values.length)]!.name;
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return '{}';
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || rnd() < 0.5);
    return `{${fields.map((f) => `${f.name}: ${literal(f.type, rnd, depth + 1, wrong)}`).join(', ')}}`;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int': return String(Math.floor(rnd() * 200) - 50);
      case 'Float': return String(rnd() * 10 - 2);
      case 'Boolean': return rnd() < 0.5 ? 'true' : 'false';
      case 'ID':
      case 'String': return JSON.stringify(['weather', '1', 'x', '', 'production', 'a'.repeat(65)][Math.floor(rnd() * 6)]);
      default: return JSON.stringify(['weather', '{}', '1', '2026-12-04T00:00:00Z'][Math.floor(rnd() * 4)]);
    }
  }
  return 'null';
}

function args(field: GraphQLField<unknown, unknown>, rnd: () => number, k: Knobs, vars: string[]): string {
  const chosen = field.args.filter((a) => isNonNullType(a.type) || rnd() < 0.4);
  if (chosen.length === 0) return '';
  return `(${chosen.map((a) => `${a.name}: ${vars.length > 0 && rnd() < 0.2 ? `$${vars[Math.floor(rnd() * vars.length)]}` : literal(a.type, rnd, 0, k.wrongArgs)}`).join(', ')})`;
}

function selection(type: GraphQLObjectType, level: number, rnd: () => number, k: Knobs, vars: string[], budget: { aliases: number }): string {
  const fields = Object.values(type.getFields());
  const count = Math.max(1, Math.min(fields.length, 1 + Math.floor(rnd() * k.width)));
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = fields[Math.floor(rnd() * fields.length)]!;
    const named = getNamedType(f.type);
    const alias = budget.aliases > 0 && rnd() < 0.5 ? `a${budget.aliases--}: ` : '';
    const directive = k.directives > 0 && rnd() < 0.3 ? ` ${'@include(if: true) '.repeat(k.directives)}` : '';
    let sub = '';
    if (isObjectType(named)) sub = level >= k.depth ? ' { __typename }' : ` { ${selection(named, level + 1, rnd, k, vars, budget)} }`;
    else if (!isScalarType(named) && !isEnumType(named)) sub = ' { __typename }';
    parts.push(`${alias}${f.name}${args(f, rnd, k, vars)}${directive}${sub}`);
  }
  while (budget.aliases > 0 && fields.length > 0) {
    const f = fields.find((x) => x.args.every((a) => !isNonNullType(a.type)) && !isObjectType(getNamedType(x.type)));
    if (f === undefined) break;
    parts.push(`a${budget.aliases--}: ${f.name}`);
  }
  return parts.join(' ');
}

function document(schema: GraphQLSchema, k: Knobs): { query: string; variables: Record<string, unknown> } {
  const rnd = random(k.seed);
  const root = (k.operation === 'mutation' ? schema.getMutationType() : null) ?? schema.getQueryType()!;
  const vars = Array.from({ length: k.variables }, (_, i) => `v${i}`);
  const varTypes = ['String', 'Int', '[String!]', 'Boolean', 'ID!', 'Float'];
  const decl = vars.length === 0 ? '' : `(${vars.map((v, i) => `$${v}: ${varTypes[i % varTypes.length]}`).join(', ')})`;
  let query = `${k.operation === 'mutation' && root !== schema.getQueryType() ? 'mutation' : 'query'} Fuzz${decl} { ${selection(root, 1, rnd, k, vars, { aliases: k.aliases })}`;
  const spreads = Array.from({ length: k.fragments }, (_, i) => `...F${i}`);
  query += ` ${spreads.join(' ')} }`;
  for (let i = 0; i < k.fragments; i++) {
    const next = k.cyclic ? `...F${(i + 1) % k.fragments}` : '';
    query += ` fragment F${i} on ${root.name} { __typename ${next} }`;
  }
  const hostile: unknown[] = ['x'.repeat(10_000), 2 ** 53, -0, null, [], {}, [[[[[1]]]]], { a: { b: { c: 1 } } }, true, 'weather'];
  const variables = Object.fromEntries(vars.map((v) => [v, hostile[Math.floor(rnd() * hostile.length)]]));
  return { query, variables };
}

const knobs: fc.Arbitrary<Knobs> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  operation: fc.constantFrom('query', 'query', 'mutation'),
  depth: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 7, max: 60 }) }),
  width: fc.integer({ min: 1, max: 6 }),
  aliases: fc.oneof({ weight: 4, arbitrary: fc.nat(4) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 400 }) }),
  fragments: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 50 }) }),
  cyclic: fc.boolean(),
  directives: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 100 }) }),
  variables: fc.nat(6),
  wrongArgs: fc.boolean(),
});

function json(body: unknown): GraphQLRequest {
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

/** Every GraphQL request kind: schema walks, corrupted ones, malformed envelopes, noise. */
export function graphqlRequests(schema: GraphQLSchema): fc.Arbitrary<GraphQLRequest> {
  const walked = knobs.map((k) => document(schema, k));
  return fc.oneof(
    { weight: 8, arbitrary: walked.map((d) => json(d)) },
    {
      weight: 2,
      arbitrary: fc.tuple(walked, fc.nat(), fc.string({ maxLength: 3 })).map(([d, at, s]) => {
        const p = d.query.length === 0 ? 0 : at % d.query.length;
        return json({ query: d.query.slice(0, p) + s + d.query.slice(p + 1), variables: d.variables });
      }),
    },
    { weight: 1, arbitrary: fc.record({ query: fc.anything({ maxDepth: 1 }), variables: fc.anything({ maxDepth: 2 }), operationName: fc.anything({ maxDepth: 0 }), extensions: fc.anything({ maxDepth: 1 }) }, { requiredKeys: [] }).map(json) },
    { weight: 1, arbitrary: fc.array(walked, { maxLength: 3 }).map(json) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => json({ query: `{ ${'models { '.repeat(n)}name${' }'.repeat(n)} }` })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 64 }), fc.constantFrom('application/json', 'text/plain', 'application/graphql', 'multipart/form-data; boundary=x', '')).map(([body, contentType]) => ({ body, contentType })) },
  );
}
