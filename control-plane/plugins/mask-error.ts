// What a client sees of an error. A SluiceError keeps its message and code (it was written for
// clients); errors GraphQL itself raises (syntax, validation, armor limits) pass through; anything
// else (a driver error with SQL in it, a bug with a stack) becomes "internal error" with the request
// id, and is logged in full on the server.
import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin, type YogaMaskedErrorOpts } from 'graphql-yoga';
import { isSluiceError, type SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { isStoreUnavailable, toStoreError } from '../store/db.js';

// Yoga's own refusals, renamed into Sluice codes.
const YOGA_CODES: Record<string, string> = {
  REQUEST_ENTITY_TOO_LARGE: 'SLUICE_E_HTTP_BODY_TOO_LARGE',
  BAD_REQUEST: 'SLUICE_E_HTTP_BAD_REQUEST',
  // Found by the fuzzer (bench/fuzz): these reached clients under graphql-js/yoga's own names.
  GRAPHQL_PARSE_FAILED: 'SLUICE_E_GRAPHQL_INVALID',
  GRAPHQL_VALIDATION_FAILED: 'SLUICE_E_GRAPHQL_INVALID',
  BAD_USER_INPUT: 'SLUICE_E_GRAPHQL_INVALID',
};

function sluiceCause(error: unknown): SluiceError | undefined {
  for (let e: unknown = error, i = 0; e !== undefined && e !== null && i < 5; i++) {
    if (isSluiceError(e)) return e;
    e = e instanceof GraphQLError ? e.originalError : undefined;
  }
  return undefined;
}

function isOriginalGraphQLError(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError)) return false;
  return error.originalError === undefined || error.originalError === null || isOriginalGraphQLError(error.originalError);
}

export function maskedErrors(logger: Logger): Partial<YogaMaskedErrorOpts> {
  return {
    isDev: false,
    maskError(error: unknown): Error {
      const located = error instanceof GraphQLError ? { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path } : {};
      const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
      // PostgreSQL down: say so (503, retry) rather than "internal error", wherever the query failed.
      const sluice = sluiceCause(error) ?? (isStoreUnavailable(original) ? toStoreError(original) : undefined);
      if (sluice) {
        const unavailable = sluice.code === 'SLUICE_E_STORE_UNAVAILABLE';
        const auth = sluice.code === 'SLUICE_E_AUTH_MISSING' || sluice.code === 'SLUICE_E_AUTH_INVALID';
        return createGraphQLError(sluice.message, {
          ...located,
          extensions: {
            code: sluice.code,
            ...(sluice.details ? { details: sluice.details } : {}),
            // A bad token fails the whole request; other errors are per field and keep 200.
            ...(auth ? { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } } : {}),
            ...(unavailable ? { http: { status: 503, headers: { 'retry-after': '2' } } } : {}),
          },
        });
      }
      if (isOriginalGraphQLError(error)) {
        const code = error.extensions?.code;
        if (typeof code === 'string' && YOGA_CODES[code]) Object.assign(error.extensions, { code: YOGA_CODES[code] });
        else if (typeof code !== 'string' || !code.startsWith('SLUICE_E_')) Object.assign(error.extensions, { code: 'SLUICE_E_HTTP_BAD_REQUEST' });
        return error;
      }
      logger.error({ err: error instanceof GraphQLError ? (error.originalError ?? error) : error }, 'unexpected error in a GraphQL request');
      return createGraphQLError('internal error', { ...located, extensions: { code: 'SLUICE_E_INTERNAL' } });
    },
  };
}

/**
 * Validation errors never pass through maskError (yoga returns them as the result, tagged
 * GRAPHQL_VALIDATION_FAILED): this gives them the Sluice code too. Armor's refusals keep theirs.
 */
export function useValidationErrorCodes(): Plugin {
  return {
    onValidate() {
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result) {
          const code = error.extensions?.code;
          if (typeof code === 'string' && code.startsWith('SLUICE_E_')) continue;
          Object.assign(error.extensions, { code: 'SLUICE_E_GRAPHQL_INVALID' });
        }
      };
    },
  };
}
