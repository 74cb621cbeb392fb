/**
 * rclone's failures in words an owner can act on. rclone prints Go error strings (and HTTP statuses for webdav); the
 * patterns below come from rclone 1.60's messages (fs/config, backend/webdav, backend/sftp, lib/rest) and the
 * errno texts of Go's net and os packages.
 */
export function explainRcloneError(text: string, targetName: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  const detail = t.length > 240 ? `${t.slice(0, 240)}…` : t;
  if (/didn't find section in config file/i.test(t))
    return `rclone does not know the remote of target "${targetName}": add it with \`rclone config\` (in sync.rcloneConfig) or fix the target's remote`;
  if (
    /\b401\b|Unauthorized|unable to authenticate|authentication failed|permission denied \(publickey|Login incorrect/i.test(
      t,
    )
  )
    return `wrong credentials: the destination of "${targetName}" refused the login; check the user and password in the rclone config (${detail})`;
  if (
    /\b507\b|Insufficient Storage|no space left on device|quota exceeded|disk quota|file too large|too big for remaining disk space/i.test(
      t,
    )
  )
    return `the destination of "${targetName}" is full (${detail})`;
  if (/read-only file system|\b403\b|Forbidden|\b405\b|permission denied|Method Not Allowed|access denied/i.test(t))
    return `the destination of "${targetName}" refused the write: it is read-only or this user may not write there (${detail})`;
  if (
    /connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset|EOF|dial tcp|context deadline exceeded|TLS handshake/i.test(
      t,
    )
  )
    return `the destination of "${targetName}" is unreachable (offline?): the queue keeps the photos and retries (${detail})`;
  if (/directory not found|not found/i.test(t))
    return `the destination folder of "${targetName}" was not found (${detail})`;
  return detail || 'rclone failed without a message';
}
