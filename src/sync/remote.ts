import { promises as fs } from 'node:fs';

/**
 * What the daemon needs to know about an rclone remote path without running rclone: is it a plain local folder,
 * which named remote it uses, and which upload strategy keeps partial files out of final names.
 */

/** rclone's remote-name syntax (fs/config.go: `^[\w\p{L}\p{N}.@+\-][\w\p{L}\p{N}.@+\- ]*:`), or `:backend:`. */
const NAMED = /^([\p{L}\p{N}_.@+-][\p{L}\p{N}_.@+\- ]*):/u;
const ON_THE_FLY = /^:([a-z0-9]+)[,:]/;

export interface RemoteInfo {
  kind: 'local' | 'named' | 'connection-string';
  /** The config section a named remote needs (`nas` of `nas:photos`). */
  name?: string;
  /** rclone backend type when known (`local`, `webdav`, `sftp`, ...). */
  backend?: string;
}

export function parseRemote(remote: string): RemoteInfo {
  if (remote.startsWith('/') || remote.startsWith('.')) return { kind: 'local', backend: 'local' };
  const fly = ON_THE_FLY.exec(remote);
  if (fly) return { kind: 'connection-string', backend: fly[1] };
  const m = NAMED.exec(remote);
  if (m) return { kind: 'named', name: m[1] };
  return { kind: 'local', backend: 'local' };
}

/** `nas:photos` + `x/y` → `nas:photos/x/y`; `nas:` + `x` → `nas:x`. */
export function joinRemote(remote: string, sub: string): string {
  if (remote.endsWith(':') || remote.endsWith('/')) return `${remote}${sub}`;
  return `${remote}/${sub}`;
}

/** Section name → `type` of an (unencrypted) rclone config file. An encrypted or unreadable file gives {}. */
export function parseRcloneConfigTypes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let section: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      continue;
    }
    const t = /^type\s*=\s*(\S+)/.exec(line);
    if (t && section) out[section] = t[1];
  }
  return out;
}

/**
 * Backends whose uploads appear at the final name only when complete: HTTP PUTs that the server commits on the
 * last byte (Apache mod_dav_fs writes to a temp file and renames it; Nextcloud/ownCloud use .part files) and object
 * stores (an object exists only once its upload completes). Everything else — local folders, sftp, ftp, smb, and
 * anything unknown — is uploaded into a hidden incoming folder and then moved, because rclone 1.60 writes those in
 * place (backend/local/local.go and backend/sftp/sftp.go open the final path with O_TRUNC), so a killed upload would
 * leave a partial file under the final name.
 */
const ATOMIC_BACKENDS = new Set([
  'webdav',
  's3',
  'b2',
  'gcs',
  'google cloud storage',
  'azureblob',
  'drive',
  'dropbox',
  'onedrive',
  'swift',
  'pcloud',
  'box',
]);

export type UploadStrategy = 'direct' | 'staged';

export function strategyFor(info: RemoteInfo): UploadStrategy {
  return info.backend && ATOMIC_BACKENDS.has(info.backend) ? 'direct' : 'staged';
}

export interface ConfigFileState {
  exists: boolean;
  /** Why rclone must not use it (mode or owner), with the fix in words; undefined when fine. */
  problem?: string;
  types: Record<string, string>;
}

/** The rclone config holds credentials: it must be 0600 (or stricter) and belong to the daemon's user. */
export async function inspectRcloneConfig(file: string, uid = process.getuid?.() ?? 0): Promise<ConfigFileState> {
  let st: import('node:fs').Stats;
  try {
    st = await fs.stat(file);
  } catch {
    return { exists: false, types: {} };
  }
  const mode = st.mode & 0o777;
  let problem: string | undefined;
  if (mode & 0o077)
    problem = `${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): it holds passwords. Fix: sudo chmod 600 ${file}`;
  else if (st.uid !== uid)
    problem = `${file} belongs to uid ${st.uid}, not to the daemon's user (uid ${uid}). Fix: sudo chown pinhole:pinhole ${file}`;
  let types: Record<string, string> = {};
  if (!problem) {
    try {
      types = parseRcloneConfigTypes(await fs.readFile(file, 'utf8'));
    } catch {
      types = {};
    }
  }
  return { exists: true, problem, types };
}

/** Credentials belong in the rclone config (0600), never in config.yaml, which the UI and `config show` print. */
export function inlineSecret(remote: string): boolean {
  return /(^|[,:])(pass|password|key_file_pass|token|client_secret|secret_access_key|bearer_token)=/i.test(remote);
}
