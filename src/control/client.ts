import net from 'node:net';
import { PinholeError, UnavailableError } from '../util/errors.js';
import { type ControlResponse, MAX_LINE_BYTES } from './protocol.js';

/** Error returned by the daemon, re-raised in the CLI with the daemon's code and HTTP-like status. */
export class RemoteError extends PinholeError {}

/**
 * Calls one method on the daemon's control socket. A daemon that is not running gives an UnavailableError
 * whose message says so and how to start it.
 */
export function callDaemon(
  socketPath: string,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = 60_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new UnavailableError(
          `the daemon did not answer "${method}" within ${Math.round(timeoutMs / 1000)} s`,
          'timeout',
        ),
      );
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ id: 1, method, params })}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE_BYTES) {
        sock.destroy();
        reject(new UnavailableError('the daemon sent an oversized answer'));
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      let res: ControlResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      } catch {
        reject(new UnavailableError('the daemon sent an unreadable answer'));
        return;
      }
      if (res.error) {
        reject(
          new RemoteError(res.error.message, {
            code: res.error.code,
            status: res.error.status,
            exitCode: res.error.status === 503 ? 3 : 1,
            details: res.error.details,
          }),
        );
      } else {
        resolve(res.result);
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(
          new UnavailableError(
            `the Pinhole daemon is not running (no answer on ${socketPath}). Start it with \`sudo systemctl start pinhole\` or \`npm start\` in the repo.`,
            'not-running',
          ),
        );
      } else if (e.code === 'EACCES') {
        reject(
          new UnavailableError(
            `permission denied on ${socketPath}: add your user to the pinhole group (\`sudo usermod -aG pinhole $USER\`, then log in again)`,
            'permission',
          ),
        );
      } else {
        reject(new UnavailableError(`cannot reach the daemon on ${socketPath}: ${e.message}`));
      }
    });
  });
}
