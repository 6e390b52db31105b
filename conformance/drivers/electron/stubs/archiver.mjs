// Stand-in for `archiver` (zip backups, backend/electron/backup.ts), which
// ipc.ts imports through backup.ts. The drivers never make backups.
export default function archiver() {
  throw new Error('archiver stub: backups are not part of the conformance driver');
}
