// A multipart upload reaches yoga already parsed: server/graphql-upload.ts checked the caller and
// streamed the files into the artifact store before yoga was called, and hands the operations (with
// staged files in place of the File variables) in the request scope. Yoga must not read the body
// again (it is consumed), so its parser is replaced by one returning those operations.
import type { Plugin } from 'graphql-yoga';
import type { RequestScope } from '../resolvers/context.js';

export function useStagedUploads(): Plugin<Record<string, unknown>, RequestScope> {
  return {
    onRequestParse({ serverContext, setRequestParser }) {
      const upload = (serverContext as Partial<RequestScope> | undefined)?.upload;
      if (upload) setRequestParser(() => upload.params);
    },
  };
}
