import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KafkaBrokerError } from './errors';

const execFileAsync = promisify(execFile);

/** TLS material of the broker's SASL_SSL listener, made with the JDK's keytool. */
export interface BrokerTls {
  dir: string;
  /** PEM of the test CA that signed the broker's certificate (clients trust this: KAFKA_SSL_CA_FILE). */
  caFile: string;
  /** PKCS12 keystore of the broker: its key, its certificate signed by the CA, and the CA. */
  keystore: string;
  keystorePassword: string;
}

async function keytool(args: string[]): Promise<void> {
  try {
    await execFileAsync('keytool', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === 'ENOENT') throw new KafkaBrokerError('keytool is not installed', 'install a JDK (apt-get install openjdk-17-jre-headless brings keytool)');
    throw new KafkaBrokerError(`keytool ${args[0]} failed: ${`${e.stderr ?? ''}${e.stdout ?? ''}`.trim() || e.message}`, `remove ${path.dirname(args[args.indexOf('-keystore') + 1] ?? '.')} and start again`);
  }
}

/**
 * A CA, and a broker keystore whose certificate the CA signed for 127.0.0.1 and localhost, in
 * `dir` (made once; kept while the files are there). Nothing leaves the machine: the CA's key
 * stays in `dir` and is good for the local broker only.
 */
export async function ensureBrokerTls(dir: string): Promise<BrokerTls> {
  const tls: BrokerTls = {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    keystore: path.join(dir, 'broker.p12'),
    keystorePassword: '',
  };
  const passwordFile = path.join(dir, 'keystore.password');
  if (fs.existsSync(tls.caFile) && fs.existsSync(tls.keystore) && fs.existsSync(passwordFile)) {
    return { ...tls, keystorePassword: fs.readFileSync(passwordFile, 'utf8').trim() };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pw = crypto.randomBytes(18).toString('base64url');
  const caStore = path.join(dir, 'ca.p12');
  const csr = path.join(dir, 'broker.csr');
  const crt = path.join(dir, 'broker.crt');
  const common = ['-storetype', 'PKCS12', '-storepass', pw, '-keypass', pw];
  const san = 'SAN=ip:127.0.0.1,dns:localhost';
  await keytool(['-genkeypair', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '3650', '-dname', 'CN=carve-local-kafka-ca', '-ext', 'bc:c', '-keystore', caStore, ...common]);
  await keytool(['-exportcert', '-rfc', '-alias', 'ca', '-keystore', caStore, '-storepass', pw, '-file', tls.caFile]);
  await keytool(['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '3650', '-dname', 'CN=localhost', '-ext', san, '-keystore', tls.keystore, ...common]);
  await keytool(['-certreq', '-alias', 'broker', '-keystore', tls.keystore, '-storepass', pw, '-file', csr]);
  await keytool(['-gencert', '-rfc', '-alias', 'ca', '-keystore', caStore, '-storepass', pw, '-infile', csr, '-outfile', crt, '-validity', '3650', '-ext', san, '-ext', 'ku:c=digitalSignature,keyEncipherment', '-ext', 'eku=serverAuth']);
  await keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', tls.caFile, '-keystore', tls.keystore, '-storepass', pw, '-storetype', 'PKCS12']);
  await keytool(['-importcert', '-noprompt', '-alias', 'broker', '-file', crt, '-keystore', tls.keystore, '-storepass', pw, '-storetype', 'PKCS12']);
  fs.writeFileSync(passwordFile, `${pw}\n`, { mode: 0o600 });
  fs.rmSync(csr, { force: true });
  return { ...tls, keystorePassword: pw };
}
