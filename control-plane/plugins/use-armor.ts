// Limits on what one GraphQL document may ask for, from GraphQL Armor: depth, aliases, directives,
// tokens and a cost estimate, plus no "did you mean" field suggestions (they map the schema for an
// attacker). A refused document gets extensions.code SLUICE_E_GRAPHQL_LIMIT with the limit named.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
}

/** Large enough for every query in docs/control-plane.md and for introspection (GraphiQL). */
export const DEFAULT_GRAPHQL_LIMITS: GraphQLLimits = {
  maxDepth: 12,
  maxAliases: 15,
  maxDirectives: 20,
  maxTokens: 2000,
  maxCost: 20000,
};

function tag(limit: keyof GraphQLLimits, value: number) {
  return (_ctx: unknown, error: GraphQLError) => {
    // Armor builds the error before calling us and reports it after: tagging in place is the hook it offers.
    Object.assign(error.extensions as Record<string, unknown>, { code: 'SLUICE_E_GRAPHQL_LIMIT', details: { limit, value } });
  };
}

export function useArmor(limits: GraphQLLimits = DEFAULT_GRAPHQL_LIMITS): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, onReject: [tag('maxDepth', limits.maxDepth)], exposeLimits: true },
    maxAliases: { n: limits.maxAliases, onReject: [tag('maxAliases', limits.maxAliases)], exposeLimits: true },
    maxDirectives: { n: limits.maxDirectives, onReject: [tag('maxDirectives', limits.maxDirectives)], exposeLimits: true },
    maxTokens: { n: limits.maxTokens, onReject: [tag('maxTokens', limits.maxTokens)], exposeLimits: true },
    costLimit: { maxCost: limits.maxCost, onReject: [tag('maxCost', limits.maxCost)], exposeLimits: true },
    blockFieldSuggestion: { enabled: true },
  }) as Plugin;
}
