// Body limits per kind of request. Yoga's own limit (maxRequestBodySize) is set to the largest
// artifact upload and also guards chunked bodies while streaming; this plugin holds everything that
// is not a multipart upload to the much smaller `maxBodyBytes`, and asks those bodies to declare
// their length so the check happens before a byte is read.
import type { Plugin } from 'graphql-yoga';
import { codedGraphQLError } from './graphql-error.js';

export function useRequestLimits(options: { maxBodyBytes: number }): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return;
      const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type === 'multipart/form-data') return;
      const length = request.headers.get('content-length');
      if (length === null) {
        throw codedGraphQLError('SLUICE_E_HTTP_LENGTH_REQUIRED', 'GraphQL requests need a Content-Length header (only multipart uploads may stream)');
      }
      if (Number(length) > options.maxBodyBytes) {
        throw codedGraphQLError('SLUICE_E_HTTP_BODY_TOO_LARGE', `request body is larger than ${options.maxBodyBytes} bytes`, { limit: options.maxBodyBytes });
      }
    },
  };
}
