// One SERVER span per GraphQL mutation (docs/tracing.md): named after the operation, with its root
// fields, the caller's token and the outcome (`success` or the first error's SLUICE_E_* code).
// A W3C `traceparent` on the HTTP request makes it a child of the caller's span. The operation
// runs inside the span, so what it causes in this process (a rollout step, a push to gateways, a
// training dispatch) is part of the same trace. Queries and subscriptions are not traced: they
// change nothing.
import { getOperationAST, Kind, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../resolvers/context.js';
import { SpanKind, type ControlPlaneTracing } from '../tracing/tracing.js';

export function useTracing(tracing: ControlPlaneTracing): Plugin<GraphQLContext & { request: Request }> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const fields = operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []));
      const name = operation.name?.value;
      const ctx = args.contextValue;
      const attributes = {
        'graphql.operation.type': 'mutation',
        ...(name !== undefined ? { 'graphql.operation.name': name } : {}),
        'sluice.graphql.field': fields.join(','),
        'sluice.actor.id': ctx.call.actor.id,
        'sluice.actor.role': ctx.call.actor.role,
        'sluice.request_id': ctx.call.request.requestId,
      };
      setExecuteFn((a) =>
        tracing.span(`mutation ${name ?? fields.join(',')}`, attributes, async () => executeFn(a), {
          kind: SpanKind.SERVER,
          parent: tracing.remoteParent(ctx.request.headers),
          outcome: (result) => outcomeOf(result as ExecutionResult),
        }),
      );
    },
  };
}

/** `success`, or the SLUICE_E_* code of the first error (masked or not). */
function outcomeOf(result: ExecutionResult): string {
  const first: GraphQLError | undefined = result.errors?.[0];
  if (first === undefined) return 'success';
  for (const code of [(first.originalError as { code?: unknown } | undefined)?.code, first.extensions?.code]) {
    if (typeof code === 'string' && code.startsWith('SLUICE_E_')) return code;
  }
  return 'SLUICE_E_INTERNAL';
}
