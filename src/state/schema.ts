import type { Database } from "bun:sqlite";
import { UserError } from "../errors.ts";

/**
 * Ordered migrations; `PRAGMA user_version` records how many have run. Append only: a released
 * migration is never edited, because existing databases have already applied it.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  -- Legacy engine position: the page being read and the last event consumed from it.
  CREATE TABLE legacy_checkpoint (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    window_start INTEGER NOT NULL,
    page_key TEXT NOT NULL,
    last_event_id TEXT NOT NULL
  );

  -- Bulk engine: dates being exported (the current one and a backlog polled for late chunks).
  CREATE TABLE bulk_dates (date TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE TABLE bulk_chunks (
    date TEXT NOT NULL,
    chunk TEXT NOT NULL,
    cursor TEXT NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (date, chunk)
  ) WITHOUT ROWID;

  CREATE TABLE sessions (
    sid TEXT PRIMARY KEY,
    next_index INTEGER NOT NULL,
    upload_time INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'missing', 'given-up')),
    not_before INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_status ON sessions (status, not_before);

  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    time INTEGER NOT NULL
  );

  -- For auto-locking: failed logins per user and login, keyed by event time (not wall clock),
  -- so that replaying history counts the same way as live traffic.
  CREATE TABLE lock_failures (
    user TEXT NOT NULL,
    login TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (user, login, event_time, event_id)
  ) WITHOUT ROWID;
  `,
  `
  -- For auto-locking: the event time of the failure that triggered the last lock per user and
  -- login. Failures up to it are spent, so one burst locks once.
  CREATE TABLE lock_marks (
    user TEXT NOT NULL,
    login TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    PRIMARY KEY (user, login)
  ) WITHOUT ROWID;

  -- Lock decisions Teleport has not accepted yet; a background worker sends them, so a slow or
  -- refusing Teleport never holds up the export, and a restart does not forget them.
  CREATE TABLE pending_locks (
    name TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    login TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
  `
  -- Late-event sweeps (legacy engine): slices of event time read once, to be read again after
  -- each late-event delay (next indexes the delays), and the ids delivered while any is pending.
  CREATE TABLE late_sweeps (
    slice_from INTEGER PRIMARY KEY,
    slice_to INTEGER NOT NULL,
    read_at INTEGER NOT NULL,
    next INTEGER NOT NULL
  );
  CREATE TABLE delivered_ids (id TEXT PRIMARY KEY, event_time INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX delivered_ids_by_time ON delivered_ids (event_time);

  -- Per UTC hour (hours since the epoch): events delivered, the sum of their id hashes (hex) and
  -- the fingerprint of the filters in force; what verify compares against Teleport.
  CREATE TABLE hour_digests (
    hour INTEGER PRIMARY KEY,
    count INTEGER NOT NULL,
    digest TEXT NOT NULL,
    filters TEXT NOT NULL
  );
  `,
  `
  -- Repairs verify --repair hands to the running instance. hours (JSON): per hour, whole or only
  -- the listed missing ids, the digest verify saw, and the progress (sent, done), which moves in
  -- the transaction of each delivered batch. key names the ask, so it is never queued twice.
  CREATE TABLE repair_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    hours TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'withdrawn')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX repair_requests_by_status ON repair_requests (status, id);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** A newer binary wrote this state: the user upgrades rather than losing the state to a downgrade. */
export class StateTooNewError extends UserError {
  constructor(path: string, version: number) {
    super(
      `state database ${path} was written by a newer teleport-event-handler (schema version ${version}; this one knows up to ${SCHEMA_VERSION}); upgrade the handler to use this storage`,
    );
  }
}

/**
 * Read-only commands never migrate, so they check here: read with this binary's idea of the
 * tables, a newer state would be misreported rather than refused.
 */
export function refuseNewer(db: Database, path: string): number {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > SCHEMA_VERSION) throw new StateTooNewError(path, current);
  return current;
}

/**
 * Indexes that only speed up a query: SQLite keeps them up to date for any binary, and a binary
 * that does not know one never notices it, so they are no schema version (a new version would make
 * older binaries refuse the state, and a downgrade with it).
 * - sessions_pending_by_upload: the scheduler asks for the oldest ready sessions at every wake-up;
 *   with the status index alone SQLite sorted every pending session each time (~28 µs with the 80
 *   a backlog holds, about twice per recording exported).
 */
const SPEED_INDEXES = `
  CREATE INDEX IF NOT EXISTS sessions_pending_by_upload ON sessions (status, upload_time);
`;

export function migrate(db: Database, path: string): void {
  const current = refuseNewer(db, path);
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    })();
  }
  db.exec(SPEED_INDEXES);
}
