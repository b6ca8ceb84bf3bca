// What a server command tells the person who started it. On a terminal (`--log-format pretty`):
// progress while it starts, then one screen saying what runs where, the first admin token once and
// how to use it; log lines follow as readable text. Otherwise (`json`): the same facts as JSON lines.
import { realpathSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Logger, PrettyLines } from '../lib/log.js';
import { writeSecretFile } from './secrets.js';

export interface ReadyFacts {
  /** Since the process started. */
  seconds: number;
  gateway?: string | undefined;
  controlPlane?: string | undefined;
  /** Control-plane data folder (SQLite), or undefined with PostgreSQL. */
  data?: string | undefined;
  models?: string | undefined;
  modelNames?: string[] | undefined;
  firstAdminToken?: string | undefined;
  /** Off a terminal, where the generated admin token is written (0600) instead of the log. */
  firstAdminTokenFile?: string | undefined;
}

const PINO_WARN = 40;

export class Screen {
  readonly #logger: Logger;
  readonly #pretty: PrettyLines | undefined;
  readonly #write: (text: string) => void;

  /** `pretty`: the destination of `logger` when it writes for a person; its info lines wait until ready. */
  constructor(logger: Logger, pretty: PrettyLines | undefined, write: (text: string) => void = (text) => void process.stdout.write(text)) {
    this.#logger = logger;
    this.#pretty = pretty;
    this.#write = write;
    if (pretty && logger.levelVal >= 30) pretty.holdBelow = PINO_WARN;
  }

  progress(text: string, fields: Record<string, unknown>): void {
    if (this.#pretty) this.#write(`  ... ${text}\n`);
    else this.#logger.info(fields, text);
  }

  ready(facts: ReadyFacts): void {
    if (!this.#pretty) {
      if (facts.firstAdminToken !== undefined && facts.firstAdminTokenFile !== undefined) {
        // Log collectors keep lines for months and show them to many: the token goes into a file only its owner reads.
        writeSecretFile(facts.firstAdminTokenFile, facts.firstAdminToken);
        this.#logger.warn(
          { service: 'control-plane', adminTokenFile: facts.firstAdminTokenFile },
          'first admin token generated and written to adminTokenFile (mode 0600); read it, store it, delete the file (set SLUICE_ADMIN_TOKEN or --admin-token-file to choose it)',
        );
      }
      this.#logger.info({ seconds: Number(facts.seconds.toFixed(2)), gateway: facts.gateway, controlPlane: facts.controlPlane }, 'ready');
      return;
    }
    this.#write(readyScreen(facts));
    this.#pretty.holdBelow = 0;
  }
}

/** A path as a person would type it from here: relative below the current folder, absolute elsewhere. */
export function shown(path: string): string {
  const abs = resolve(path);
  const rel = relative(process.cwd(), abs);
  return rel === '' ? '.' : rel.startsWith('..') ? abs : rel;
}

/** How to run this same CLI again from here (`node dist/cli/sluice.js`, whichever way it was started). */
function selfCommand(): string {
  const script = process.argv[1];
  if (script === undefined) return 'sluice';
  let real = script;
  try {
    real = realpathSync(script);
  } catch {
    // keep the path as given
  }
  return `node ${shown(real)}`;
}

export function readyScreen(f: ReadyFacts): string {
  const lines = ['', `  Sluice is ready (${f.seconds.toFixed(1)} s)`, ''];
  if (f.gateway) lines.push(`  gateway        ${f.gateway}   Open Inference Protocol: /v2/models/<name>/infer, WebSocket /v2/ws`);
  if (f.controlPlane) {
    lines.push(`  control plane  ${f.controlPlane}   GraphQL API at /graphql (GraphiQL when opened in a browser)`);
    lines.push(`  console        ${f.controlPlane}/   in a browser, sign in with the admin token`);
  }
  if (f.models) lines.push(`  models         ${(f.modelNames ?? []).join(', ')}   (${shown(f.models)})`);
  if (f.data && f.controlPlane) lines.push(`  data           ${shown(f.data)}   (SQLite database, artifacts, registry key)`);
  lines.push('');
  if (f.controlPlane) {
    const recover = `${selfCommand()} token create --role admin${f.data ? ` --data ${shown(f.data)}` : ' --db <postgres://…>'}`;
    if (f.firstAdminToken !== undefined) {
      const title = ' ADMIN TOKEN - shown only this once: store it now ';
      const width = Math.max(title.length + 4, f.firstAdminToken.length + 4);
      lines.push(
        `  +--${title}${'-'.repeat(width - title.length - 2)}+`,
        `  |  ${f.firstAdminToken.padEnd(width - 2)}|`,
        `  +${'-'.repeat(width)}+`,
        '  Use it from another shell:',
        `    export ADMIN=${f.firstAdminToken}`,
        `    curl -s ${f.controlPlane}/graphql -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"query":"{ me { name role } }"}'`,
        `  In GraphiQL (${f.controlPlane}/graphql), put {"Authorization": "Bearer <the token>"} in the Headers pane.`,
      );
    } else {
      lines.push('  admin token    made at the first start and not shown again (SLUICE_ADMIN_TOKEN only chooses the first one)');
    }
    lines.push(`  Lost it? On this machine: ${recover}`, '');
  }
  if (f.gateway && f.modelNames?.includes('weather')) {
    lines.push(
      '  Ask the gateway (no token needed):',
      `    curl -s ${f.gateway}/v2/models/weather/infer -d '{"inputs":[{"name":"features","shape":[1,5],"datatype":"FP32","data":[0.0,28.9,14.4,2.1,200]}]}'`,
      '',
    );
  }
  lines.push('  Ctrl-C stops. Logs follow (--log-format json for JSON lines).', '');
  return `${lines.join('\n')}\n`;
}
