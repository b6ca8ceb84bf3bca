// Certificates made at test time with Debian's openssl, in a temp folder: a CA, server certificates
// for 127.0.0.1/localhost (a good one, a second one with another serial, an expired one), a second
// unrelated CA, and client certificates from either CA. EC P-256 keys: quick to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  /** The CA that signed `server`, `server2`, `expired` and `client`. */
  ca: string;
  /** An unrelated CA that signed `strangerClient` (and `strangerServer`). */
  otherCa: string;
  server: CertPair;
  /** Same names, another serial: what a reload puts in service. */
  server2: CertPair;
  /** Valid for 127.0.0.1/localhost, but its validity ended yesterday. */
  expired: CertPair;
  strangerServer: CertPair;
  client: CertPair;
  strangerClient: CertPair;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=Sluice test ${name}`], dir);
}

/** A certificate signed by `ca`; `days` < 0 makes one whose validity already ended (openssl x509 -not_before/-not_after). */
function makeLeaf(dir: string, ca: string, name: string, usage: 'server' | 'client', expired = false): CertPair {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${usage === 'server' ? 'localhost' : `sluice-${name}`}`], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, usage === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  // `openssl ca` takes explicit dates; `x509 -req` (what OpenSSL 3.0 has) takes only -days, so an
  // expired certificate is made with `ca -startdate/-enddate` in a throwaway CA database.
  if (expired) {
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial.txt\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n`);
    writeFileSync(join(dir, 'serial.txt'), '1000\n');
    openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', `${name}.ext`, '-notext'], dir);
  } else {
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
  }
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-certs-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    server: makeLeaf(dir, 'ca', 'server', 'server'),
    server2: makeLeaf(dir, 'ca', 'server2', 'server'),
    expired: makeLeaf(dir, 'ca', 'expired', 'server', true),
    strangerServer: makeLeaf(dir, 'other-ca', 'stranger-server', 'server'),
    client: makeLeaf(dir, 'ca', 'client', 'client'),
    strangerClient: makeLeaf(dir, 'other-ca', 'stranger-client', 'client'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
