import { createGraphQLError } from 'graphql-yoga';
import type { GraphQLError } from 'graphql';
import { ERROR_STATUS, type ErrorCode } from '../../lib/errors.js';

/** A GraphQL error carrying a Sluice code (and the HTTP status yoga answers with when it ends the request). */
export function codedGraphQLError(code: ErrorCode, message: string, details?: Record<string, unknown>): GraphQLError {
  return createGraphQLError(message, {
    extensions: { code, ...(details ? { details } : {}), http: { status: ERROR_STATUS[code] } },
  });
}
