// A real nginx for tests and the cluster bench (test/helpers/nginx.ts re-exports it), running the shipped deploy/nginx/sluice.conf: the file is read from the
// checkout and only its upstream `server` lines and its `listen` lines are rewritten (ports on
// 127.0.0.1), then it is included by a small main config with its own prefix, pid, logs and temp
// folders. nginx runs in the foreground as this process's child, never the system service.
// Failing to start is an error (CI installs nginx, .ci/run): a test never skips it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shipped config in the checkout (this file runs from dist/bench/cluster/). */
export const SHIPPED_NGINX_CONF = fileURLToPath(new URL('../../../deploy/nginx/sluice.conf', import.meta.url));
const NGINX = process.env.SLUICE_NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxRender {
  /** Upstream name → the `host:port` of each server, replacing the shipped list (its first line's parameters are kept). */
  upstreams: Record<string, string[]>;
  /** The port of each `listen` line, in file order (bound on 127.0.0.1). */
  listen: number[];
}

/** The shipped config with the test's upstream servers and listen ports; throws when the file no longer has what it rewrites. */
export function renderNginxConf(source: string, render: NginxRender): string {
  let out = source;
  for (const [name, servers] of Object.entries(render.upstreams)) {
    const block = new RegExp(`(upstream ${name} \\{)([\\s\\S]*?\\n\\})`);
    const m = block.exec(out);
    if (m === null) throw new Error(`no upstream ${name} in the nginx config`);
    const lines = [...m[2]!.matchAll(/^(\s*)server\s+\S+([^;\n]*);[^\n]*\n/gm)];
    if (lines.length === 0) throw new Error(`upstream ${name} has no server lines`);
    const [indent, params] = [lines[0]![1]!, lines[0]![2]!];
    let body = m[2]!;
    for (const l of lines) body = body.replace(l[0], '');
    const first = m[2]!.indexOf(lines[0]![0]);
    body = body.slice(0, first) + servers.map((s) => `${indent}server ${s}${params};\n`).join('') + body.slice(first);
    out = out.replace(m[0], m[1]! + body);
  }
  let i = 0;
  out = out.replace(/^(\s*)listen\s+[^;]+;/gm, (_all, indent: string) => {
    const port = render.listen[i++];
    if (port === undefined) throw new Error('the nginx config has more listen lines than ports given');
    return `${indent}listen 127.0.0.1:${port};`;
  });
  if (i !== render.listen.length) throw new Error(`the nginx config has ${i} listen lines, ${render.listen.length} ports given`);
  return out;
}

/**
 * Calls in `accessLog` (the `sluice_test` format) that a try at `addr` answered with `status`:
 * `$upstream_status` and `$upstream_addr` list one entry per try, in the same order.
 */
export function triesAnswered(accessLog: string, addr: string, status = 200): number {
  let n = 0;
  for (const line of accessLog.split('\n')) {
    const m = /^\d+ (.+?) ((?:[\d.]+:\d+(?:, )?)+) "/.exec(line);
    if (m === null) continue;
    const statuses = m[1]!.split(', ');
    const addrs = m[2]!.split(', ');
    if (addrs.some((a, i) => a === addr && statuses[i] === String(status))) n++;
  }
  return n;
}

export interface RunningNginx {
  prefix: string;
  /** The access log: one line per call, `status upstream_status upstream_addr request`. */
  accessLog: () => string;
  errorLog: () => string;
  stop: () => Promise<void>;
  /** SIGKILL, synchronously (for a process 'exit' handler). */
  kill: () => void;
}

/** Start nginx in the foreground on `dir` with this http{}-level config; resolves once every port accepts. */
export async function startNginx(dir: string, httpConf: string, ports: number[]): Promise<RunningNginx> {
  if (!existsSync(NGINX)) throw new Error(`nginx not found at ${NGINX} (apt-get install nginx, or set SLUICE_NGINX_BIN)`);
  for (const sub of ['logs', 'temp']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sluice.conf'), httpConf);
  const temp = (name: string) => `${name}_temp_path ${join(dir, 'temp', name)};`;
  const main = [
    // As root, nginx would hand its workers to `nobody`, who cannot write into the test's folder.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  log_format sluice_test '$status $upstream_status $upstream_addr "$request"';`,
    `  access_log ${join(dir, 'logs', 'access.log')} sluice_test;`,
    `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
    `  include ${join(dir, 'sluice.conf')};`,
    '}',
    '',
  ].join('\n');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, main);
  const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the config:\n${check.stderr}`);
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const read = (file: string) => (existsSync(join(dir, 'logs', file)) ? readFileSync(join(dir, 'logs', file), 'utf8') : '');
  for (const port of ports) {
    const end = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}${read('error.log')}`);
      const up = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.arrayBuffer().then(() => true), () => false);
      if (up) break;
      if (Date.now() > end) throw new Error(`nginx not listening on ${port} after 10 s: ${read('error.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    prefix: dir,
    accessLog: () => read('access.log'),
    errorLog: () => read('error.log'),
    kill: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
    stop: async () => {
      // SIGTERM is nginx's fast stop: a graceful one (SIGQUIT) would wait for open WebSockets.
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
