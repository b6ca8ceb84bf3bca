// GraphiQL without the internet. Yoga's built-in page loads its script, styles and editor workers
// from a CDN, so offline it stays at "Loading ...". @graphql-yoga/render-graphiql ships the same
// assets inside the package (~9 MB of strings); this module serves them as separate files under
// /graphiql/ (cacheable, loaded once per browser) behind a small page that names only same-origin
// URLs. The asset module is imported on the first GraphiQL request, not at start.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';
import { SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { sendError } from './artifact-download.js';

export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

interface Asset {
  contentType: string;
  body: (a: typeof import('@graphql-yoga/render-graphiql/graphiql')) => string | Buffer;
}

const ASSETS: Record<string, Asset> = {
  'graphiql.js': { contentType: 'text/javascript; charset=utf-8', body: (a) => a.js },
  'graphiql.css': { contentType: 'text/css; charset=utf-8', body: (a) => a.css },
  'editor.worker.js': { contentType: 'text/javascript; charset=utf-8', body: (a) => a.editorWorkerService },
  'json.worker.js': { contentType: 'text/javascript; charset=utf-8', body: (a) => a.jsonWorker },
  'graphql.worker.js': { contentType: 'text/javascript; charset=utf-8', body: (a) => a.graphqlWorker },
  'favicon.ico': { contentType: 'image/x-icon', body: (a) => Buffer.from(a.favicon.slice(a.favicon.indexOf(',') + 1), 'base64') },
};

let loaded: Promise<Map<string, Buffer>> | undefined;

function assets(): Promise<Map<string, Buffer>> {
  return (loaded ??= import('@graphql-yoga/render-graphiql/graphiql').then((a) => {
    const out = new Map<string, Buffer>();
    for (const [name, asset] of Object.entries(ASSETS)) {
      const body = asset.body(a);
      out.set(name, typeof body === 'string' ? Buffer.from(body) : body);
    }
    return out;
  }));
}

/** Yoga's `renderGraphiQL`: the page; `<` in the options is escaped so they cannot close the script. */
export function renderGraphiQLPage(opts: GraphiQLOptions): string {
  const options = JSON.stringify(opts).replace(/</g, '\\u003c');
  const title = (opts.title ?? 'GraphiQL').replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const p = GRAPHIQL_ASSET_PREFIX;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${p}favicon.ico">
<link rel="stylesheet" href="${p}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script>
const workers = { editorWorkerService: '${p}editor.worker.js', json: '${p}json.worker.js', graphql: '${p}graphql.worker.js' };
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
</script>
<script src="${p}graphiql.js"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${options});</script>
</body>
</html>
`;
}

/** GET/HEAD `/graphiql/<name>`: one of the page's assets, or 404. */
export function serveGraphiQLAsset(req: IncomingMessage, res: ServerResponse, name: string, logger: Logger): void {
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!asset) {
    sendError(res, new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no GraphiQL asset ${name}`));
    return;
  }
  assets().then(
    (all) => {
      const body = all.get(name)!;
      res.writeHead(200, { 'content-type': asset.contentType, 'content-length': body.length, 'cache-control': 'public, max-age=86400' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    (err: unknown) => {
      logger.error({ err }, 'GraphiQL assets cannot be loaded from @graphql-yoga/render-graphiql');
      sendError(res, new SluiceError('SLUICE_E_INTERNAL', 'internal error'));
    },
  );
}
