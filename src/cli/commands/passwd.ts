import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ValidationError } from '../../util/errors.js';
import { authFilePath, checkPasswordStrength, MAX_PASSWORD_LENGTH, writePassword } from '../../web/auth/password.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** Reads one line from a TTY without echoing it. Ctrl-C aborts; backspace works. */
export function readHidden(input: TtyInput, prompt: string, output: Writable): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    let value = '';
    input.setRawMode?.(true);
    input.resume();
    const done = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new ValidationError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (value.length < MAX_PASSWORD_LENGTH + 1) value += ch;
      }
    };
    input.on('data', onData);
  });
}

/** Non-interactive: the first line of stdin (`echo secret | pinhole passwd`). */
export async function readFirstLine(input: Readable): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += String(chunk);
    if (text.includes('\n') || text.length > MAX_PASSWORD_LENGTH + 2) break;
  }
  return text.split('\n')[0].replace(/\r$/, '');
}

export async function readNewPassword(input: TtyInput, output: Writable): Promise<string> {
  if (!input.isTTY) return readFirstLine(input);
  const first = await readHidden(input, 'New password: ', output);
  checkPasswordStrength(first);
  const second = await readHidden(input, 'Repeat it: ', output);
  if (first !== second) throw new ValidationError('the two passwords differ; nothing was changed');
  return first;
}

export const command: CliCommand = {
  name: 'passwd',
  summary: 'Set the web UI password (there is no default)',
  usage: '',
  help: `Asks for the new password twice on a terminal, or reads the first line of standard input when it is not a
terminal (e.g. \`echo 'my secret' | sudo pinhole passwd\`). At least 8 characters. Stores a scrypt hash in
<dataDir>/state/auth.json (mode 0600). Phones logged in with the old password are logged out.`,
  async run(_args, ctx) {
    const { config } = await resolveCliConfig(ctx);
    const password = await readNewPassword(process.stdin, process.stderr);
    await writePassword(config.dataDir, password);
    await handOverToDataDirOwner(config.dataDir);
    ctx.out(`Password set (${authFilePath(config.dataDir)}). Log in from the web UI.`);
    return 0;
  },
};

/** Run as root (`sudo pinhole passwd`), the file must still be readable by the daemon's user, who owns dataDir. */
async function handOverToDataDirOwner(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owner = await fs.stat(dataDir);
  if (owner.uid === 0) return;
  const file = authFilePath(dataDir);
  await fs.chown(path.dirname(file), owner.uid, owner.gid);
  await fs.chown(file, owner.uid, owner.gid);
}
