/**
 * `pii-gateway certs init [dir]`: a development CA, a server certificate and a client certificate, so
 * mTLS can be tried locally in a minute. Not a PKI: production certificates come from your own CA
 * (cert-manager, Vault PKI, SPIRE, ...), and the gateway only needs the PEM files.
 *
 * Keys are EC P-256, generated with node:crypto and written straight to 0600 files (they never pass
 * through a pipe or a temp file). Certificates are signed by the `openssl` CLI (OpenSSL 1.1.1+, 3.x or
 * LibreSSL: only long-standing `req`/`x509`/`ca` options are used), which avoids a new npm dependency
 * for a development convenience. Nothing is ever overwritten: files are created with O_EXCL.
 *
 * The helpers (createCa, issueCert) are exported for tests, which also need a wrong CA and an expired
 * certificate.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface IssueOptions {
  readonly cn: string;
  readonly usage: 'server' | 'client';
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  readonly uris?: readonly string[];
  /** Validity from now (default 365 days)... */
  readonly days?: number;
  /** ...or an explicit window (tests: an expired certificate). */
  readonly validity?: { readonly notBefore: Date; readonly notAfter: Date };
}

const CN_SAFE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** Runs openssl; a missing binary or a failure becomes an Error with a readable message. */
function openssl(args: string[], input?: string): string {
  try {
    return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('the openssl command was not found on PATH; certs init needs it (OpenSSL 1.1.1+, 3.x or LibreSSL)');
    }
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split('\n')[0]}`);
  }
}

function writeKey(file: string): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
}

function withTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-certs-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkCn(cn: string): void {
  if (!CN_SAFE.test(cn)) throw new Error(`common name ${JSON.stringify(cn)}: use letters, digits, space, ., _ and - (at most 64)`);
}

/** A self-signed CA (`<name>.crt`, `<name>.key` in `dir`). */
export function createCa(dir: string, name: string, cn: string, days = 3650): CertFiles {
  checkCn(cn);
  const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  writeKey(files.key);
  const pem = withTemp((tmp) => {
    const cnf = path.join(tmp, 'ca.cnf');
    writeFileSync(
      cnf,
      [
        '[req]', 'distinguished_name = dn', 'x509_extensions = v3', 'prompt = no',
        '[dn]', `CN = ${cn}`,
        '[v3]', 'basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
      ].join('\n'),
    );
    return openssl(['req', '-x509', '-new', '-config', cnf, '-key', files.key, '-sha256', '-days', String(days), '-set_serial', serial()]);
  });
  writeFileSync(files.cert, pem, { mode: 0o644, flag: 'wx' });
  return files;
}

/** A leaf certificate signed by `ca` (`<name>.crt`, `<name>.key` in `dir`). */
export function issueCert(dir: string, name: string, ca: CertFiles, options: IssueOptions): CertFiles {
  checkCn(options.cn);
  const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  writeKey(files.key);
  const sans = [
    ...(options.dns ?? []).map((d) => `DNS:${d}`),
    ...(options.ips ?? []).map((i) => `IP:${i}`),
    ...(options.uris ?? []).map((u) => `URI:${u}`),
  ];
  for (const s of sans) if (/[,\n]/.test(s)) throw new Error('subjectAltName entries must not contain commas or newlines');
  const ext = [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    `extendedKeyUsage = ${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(sans.length > 0 ? [`subjectAltName = ${sans.join(',')}`] : []),
  ].join('\n');
  const csr = openssl(['req', '-new', '-key', files.key, '-subj', `/CN=${options.cn}`]);
  const pem = withTemp((tmp) => {
    const extFile = path.join(tmp, 'ext.cnf');
    writeFileSync(extFile, `${ext}\n`);
    if (options.validity === undefined) {
      return openssl(
        ['x509', '-req', '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(), '-sha256', '-days', String(options.days ?? 365), '-extfile', extFile],
        csr,
      );
    }
    // An explicit window needs `openssl ca` (x509 -req has no start date before OpenSSL 3.4).
    const cnf = path.join(tmp, 'ca.cnf');
    writeFileSync(path.join(tmp, 'index.txt'), '');
    writeFileSync(
      cnf,
      [
        '[ca]', 'default_ca = d',
        '[d]', `database = ${path.join(tmp, 'index.txt')}`, `new_certs_dir = ${tmp}`, `serial = ${path.join(tmp, 'serial')}`,
        'default_md = sha256', 'policy = p', 'unique_subject = no', 'copy_extensions = none',
        '[p]', 'commonName = supplied',
      ].join('\n'),
    );
    writeFileSync(path.join(tmp, 'serial'), `${serial().slice(2)}\n`);
    const csrFile = path.join(tmp, 'req.csr');
    writeFileSync(csrFile, csr);
    const out = path.join(tmp, 'out.crt');
    openssl([
      'ca', '-batch', '-config', cnf, '-cert', ca.cert, '-keyfile', ca.key, '-in', csrFile, '-out', out, '-notext', '-extfile', extFile,
      '-startdate', asn1Time(options.validity.notBefore), '-enddate', asn1Time(options.validity.notAfter),
    ]);
    return openssl(['x509', '-in', out]);
  });
  writeFileSync(files.cert, pem, { mode: 0o644, flag: 'wx' });
  return files;
}

/** A positive random 64-bit serial in hex (RFC 5280: unique per CA, at most 20 octets). */
function serial(): string {
  const b = randomBytes(8);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return `0x${b.toString('hex')}`;
}

function asn1Time(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export interface InitResult {
  readonly ca: CertFiles;
  readonly server: CertFiles;
  readonly client: CertFiles;
}

const INIT_FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'];

/**
 * Writes ca.{crt,key}, server.{crt,key} (SAN localhost, 127.0.0.1, ::1) and client.{crt,key} (CN=clientCn)
 * into `dir`. Refuses when any of them exists.
 */
export function certsInit(dir: string, options: { clientCn?: string; days?: number } = {}): InitResult {
  const existing = INIT_FILES.map((f) => path.join(dir, f)).filter((f) => existsSync(f));
  if (existing.length > 0) throw new Error(`refusing to overwrite existing files: ${existing.join(', ')}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = options.days ?? 365;
  const ca = createCa(dir, 'ca', 'pii-gateway dev CA', Math.max(days, 3650));
  const server = issueCert(dir, 'server', ca, { cn: 'localhost', usage: 'server', dns: ['localhost'], ips: ['127.0.0.1', '::1'], days });
  const client = issueCert(dir, 'client', ca, { cn: options.clientCn ?? 'dispatcher', usage: 'client', days });
  return { ca, server, client };
}

const HELP = `Usage: pii-gateway certs init [dir] [--client-cn NAME] [--days N]

Creates a development CA and two certificates for trying mTLS locally (default dir: ./certs):
  ca.crt, ca.key          the dev CA (trust it for client certificates: PII_GATEWAY_TLS_CLIENT_CA)
  server.crt, server.key  the gateway's certificate, SAN localhost, 127.0.0.1, ::1
  client.crt, client.key  a client certificate, CN=dispatcher (--client-cn to change)
Keys are EC P-256, mode 0600. Existing files are never overwritten. Needs the openssl command.
Not for production: use certificates from your own CA there. See docs/security.md#mtls.

Options:
  --client-cn NAME   common name of the client certificate (default dispatcher)
  --days N           validity of the server and client certificates in days (default 365)
  -h, --help         this text
`;

/** `pii-gateway certs <sub>`. */
export function certsCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    console.error(HELP);
    return 2;
  }
  if (sub === '--help' || sub === '-h') {
    console.log(HELP);
    return 0;
  }
  if (sub !== 'init') {
    console.error(`pii-gateway certs: unknown subcommand '${sub}' (expected 'init')\n\n${HELP}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: { help: { type: 'boolean', short: 'h' }, 'client-cn': { type: 'string' }, days: { type: 'string' } },
    });
  } catch (err) {
    console.error(`pii-gateway certs init: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const days = values.days === undefined ? 365 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650 || positionals.length > 1) {
    console.error(`pii-gateway certs init: expected at most one directory and --days from 1 to 3650\n\n${HELP}`);
    return 2;
  }
  const dir = path.resolve(positionals[0] ?? 'certs');
  try {
    const r = certsInit(dir, { clientCn: values['client-cn'], days });
    const rel = (f: string) => path.relative(process.cwd(), f) || f;
    console.log(`Wrote a development CA and certificates to ${rel(dir)}/ (keys mode 0600):
  ${rel(r.ca.cert)}  ${rel(r.server.cert)}  ${rel(r.client.cert)}

Proxy with client certificates required:
  PII_GATEWAY_TLS_CERT=${rel(r.server.cert)} PII_GATEWAY_TLS_KEY=${rel(r.server.key)} \\
  PII_GATEWAY_TLS_CLIENT_CA=${rel(r.ca.cert)} pii-gateway start

Call it:
  curl --cacert ${rel(r.ca.cert)} --cert ${rel(r.client.cert)} --key ${rel(r.client.key)} https://localhost:8080/...`);
    return 0;
  } catch (err) {
    console.error(`pii-gateway certs init: ${(err as Error).message}`);
    return 1;
  }
}
