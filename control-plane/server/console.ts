// The console's files (built by scripts/build-console.js into dist/console/): index.html at / and
// /console/ (and any /console/<page> deep link), no-cache so a new build is seen at once; the
// content-hashed app-<hash>.js/.css with a year's immutable cache. Read once, kept in memory (a few
// hundred KB). The page only talks to /graphql on this origin, as the CSP says.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SluiceError } from '../../lib/errors.js';
import { sendError } from './artifact-download.js';

/** dist/console, next to dist/control-plane. */
export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console');

const HASHED = /^app-[A-Z0-9]+\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface ConsoleFiles {
  index: Buffer;
  assets: Map<string, Buffer>;
}

export class ConsoleAssets {
  readonly #dir: string;
  #files: ConsoleFiles | null | undefined;

  constructor(dir: string = CONSOLE_DIR) {
    this.#dir = dir;
  }

  /** Whether the path is the console's: / or /console[/...]. */
  static owns(path: string): boolean {
    return path === '/' || path === '/console' || path.startsWith('/console/');
  }

  #load(): ConsoleFiles | null {
    if (this.#files !== undefined) return this.#files;
    try {
      const assets = new Map<string, Buffer>();
      for (const name of readdirSync(this.#dir)) if (HASHED.test(name)) assets.set(name, readFileSync(join(this.#dir, name)));
      this.#files = { index: readFileSync(join(this.#dir, 'index.html')), assets };
    } catch {
      this.#files = null;
    }
    return this.#files;
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new SluiceError('SLUICE_E_HTTP_METHOD_NOT_ALLOWED', `${req.method} ${path}: the console is read with GET or HEAD`));
      return;
    }
    const files = this.#load();
    if (files === null) {
      sendError(res, new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `the console is not built (no ${this.#dir}/index.html): run npm run build:console`));
      return;
    }
    const name = path.startsWith('/console/') ? path.slice('/console/'.length) : '';
    const asset = HASHED.test(name) ? files.assets.get(name) : undefined;
    if (HASHED.test(name) && asset === undefined) {
      sendError(res, new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no console file ${name} (an older build's?)`));
      return;
    }
    const body = asset ?? files.index;
    res.writeHead(200, {
      'content-type': asset ? TYPES[name.slice(name.lastIndexOf('.') + 1)]! : 'text/html; charset=utf-8',
      'content-length': body.length,
      'cache-control': asset ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(asset ? {} : { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
