import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TEMP_MARK } from '../util/atomic-write.js';
import { UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('web.tls');
const run = promisify(execFile);

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  certFile: string;
}

/**
 * The self-signed certificate for `web.tls.enabled`, made with the `openssl` CLI on first start and kept in
 * `<dataDir>/tls/` (key mode 0600). Phones show a warning once; Web Share needs a secure context.
 */
export async function ensureSelfSignedCert(dataDir: string, opts: { openssl?: string } = {}): Promise<TlsMaterial> {
  const dir = path.join(dataDir, 'tls');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  try {
    return { key: await fs.readFile(keyFile), cert: await fs.readFile(certFile), certFile };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'pinhole';
  const tmpKey = path.join(dir, `${TEMP_MARK}key.pem`);
  const tmpCert = path.join(dir, `${TEMP_MARK}cert.pem`);
  try {
    await run(
      opts.openssl ?? 'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=${host}`,
        '-addext',
        `subjectAltName=DNS:${host},DNS:${host}.local,DNS:localhost,IP:127.0.0.1`,
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { timeout: 30_000 },
    );
  } catch (e) {
    await fs.rm(tmpKey, { force: true });
    await fs.rm(tmpCert, { force: true });
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UnavailableError(
      missing
        ? 'web.tls.enabled needs the `openssl` command to make a certificate (apt-get install openssl)'
        : `could not make a TLS certificate: ${(e as Error).message}`,
      'tls-unavailable',
      e,
    );
  }
  await fs.chmod(tmpKey, 0o600);
  // The key goes in place last: a crash in between leaves no key, and the next start makes a fresh pair.
  await fs.rename(tmpCert, certFile);
  await fs.rename(tmpKey, keyFile);
  log.info('made a self-signed certificate', { file: certFile });
  return { key: await fs.readFile(keyFile), cert: await fs.readFile(certFile), certFile };
}
