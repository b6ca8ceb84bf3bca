// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl in a temp
// folder: what `compare.js --b-tls` serves gateway B with and trusts in its load generator.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchCerts {
  ca: string;
  cert: string;
  key: string;
  remove(): void;
}

/** EC P-256, as a current deployment would serve (ECDHE + AES-GCM is negotiated by default). */
export function makeBenchCerts(): BenchCerts {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-tls-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Sluice bench CA']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
