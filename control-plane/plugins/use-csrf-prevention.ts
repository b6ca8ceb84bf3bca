// CSRF prevention in the Apollo Server sense: a browser can send a "simple" cross-site request (a
// GET, or a POST with a form or text content type) without a CORS preflight, carrying cookies. Such
// requests are executed only when they carry a header a page cannot set without a preflight. JSON
// POSTs are preflighted by browsers and pass. Multipart uploads therefore need the header too
// (curl -H 'graphql-require-preflight: 1').
import type { Plugin } from 'graphql-yoga';
import { codedGraphQLError } from './graphql-error.js';

export const CSRF_HEADERS = ['graphql-require-preflight', 'x-graphql-csrf', 'apollo-require-preflight'] as const;
const SIMPLE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

function isSimple(request: Request): boolean {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  return type === undefined || type === '' || SIMPLE_TYPES.includes(type);
}

export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!isSimple(request)) return;
      if (CSRF_HEADERS.some((h) => (request.headers.get(h) ?? '') !== '')) return;
      throw codedGraphQLError(
        'SLUICE_E_HTTP_CSRF',
        `this request could have been sent by a cross-site page: send Content-Type: application/json, or one of the headers ${CSRF_HEADERS.join(', ')}`,
      );
    },
  };
}
