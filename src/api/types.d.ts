// The TypeScript surface of the module, designed by hand: wasm-bindgen can only say `any`
// for values that cross as JavaScript objects. Appended to the generated declarations by
// `src/api/types.rs`.

/** A row in the app's shape (camelCase columns). */
export type Row = { id: string; version: number; updatedAt?: string | null; deletedAt?: string | null; [column: string]: unknown };

/** Options of `SyncClient.open`. */
export interface OpenOptions {
  supabaseUrl: string;
  anonKey: string;
  accessToken: string;
  userId: string;
  /** The synced tables; RockOn's by default. */
  schema?: { tables: TableSchema[] };
  conflictPolicy?: 'serverWins' | 'clientWins';
  /** Defaults to `rockon-sync:<userId>`. */
  databaseName?: string;
  retryInitialMs?: number;
  /** A request without its whole answer this long is aborted and retried like any lost answer
   * (a write may have committed, and is retried idempotently). Default 30000. */
  requestTimeoutMs?: number;
  pollAfterFailedConnects?: number;
  pollIntervalMs?: number;
  /** Pull every followed band this often while the page is visible, even with the socket up:
   * changes the Realtime stream lost are repaired by it (default 60000, at least 1000). */
  antiEntropyMs?: number;
  /** How other members' changes arrive. `'broadcast'` (the default): Broadcast from Database on
   * the private `band:<id>` and `user:<id>` topics (migration 0004); the database checks who
   * may listen once per join, not once per change and subscriber. `'postgres_changes'`: one
   * binding per table, each change checked against each subscriber's row-level security
   * (needs only the publication). Catch-up pulls are the same in both. */
  changes?: 'broadcast' | 'postgres_changes';
  /** Collect what a developer dashboard shows: `requests()`, `latencies()` and a sync log kept
   * in IndexedDB (`devtoolsLog`). Off by default: nothing is recorded or stored. */
  devtools?: boolean;
  /** Ask the browser to keep the cache under storage pressure (`navigator.storage.persist()`,
   * default true). */
  persistStorage?: boolean;
  /** A `storage` event (`nearlyFull`) when this share of the quota is in use (default 0.8). */
  storageWarningRatio?: number;
  /** Toasts about other members' changes and about the connection. */
  notifications?: NotificationOptions;
}

/** A request the layer made (`SyncClient.requests`). */
export interface RequestRecord { method: string; path: string; status: number; durationMs: number; bytes: number; at: number }

/** A change's trip from commit to this client (`SyncClient.latencies`). */
export interface LatencySample { at: number; ms: number }

/** Filters of `SyncClient.devtoolsLog`. */
export interface DevtoolsLogOptions { kind?: string; table?: string; limit?: number }

/** Every `code` this module's errors carry: in rejected promises, thrown errors and `error`
 * events. Checked against the sources by a test, so a switch over it is exhaustive. */
export type SyncErrorCode =
  | 'binding_mismatch' | 'database_blocked' | 'database_closed' | 'devtools_disabled'
  | 'export_failed' | 'invalid_argument' | 'invalid_channel_config' | 'invalid_options'
  | 'invalid_token' | 'memberships_unavailable'
  | 'missing_field' | 'no_conflict' | 'not_an_object' | 'not_editable' | 'not_found'
  | 'not_in_conflict' | 'pending_writes' | 'postgres_changes_failed' | 'quota_exceeded'
  | 'rate_limited' | 'row_deleted' | 'server_error' | 'server_restarting' | 'storage_failed'
  | 'storage_key_taken' | 'timeout' | 'token_expired' | 'too_many_channels' | 'unauthorized'
  | 'unknown_field' | 'unknown_table' | 'unmatched_topic' | 'unreadable_answer' | 'user_mismatch'
  | 'wrong_type';

/** What the module rejects with and throws: an `Error` with a stable `code`. */
export interface SyncFailure extends Error { code: SyncErrorCode }

/** Options of `SyncClient.signOut`. */
export interface SignOutOptions {
  /** Sign out even though writes are not on the server yet (they are lost). */
  dropPendingWrites?: boolean;
}

export interface NotificationOptions {
  /** One author's changes within this window are one toast (default 2000). */
  windowMs?: number;
  /** At most this many toasts per period (default 5)… */
  maxToasts?: number;
  /** …of this length (default 10000); then one summary. */
  periodMs?: number;
  /** Which changes make toasts: all (default), none, or only these tables. */
  policy?: 'all' | 'none' | string[];
  /** A connection down this long gets a "lost" toast (default 3000); `null` for none. */
  connectionGraceMs?: number | null;
}

/** Figures for a developer dashboard (`SyncClient.stats`). */
export interface SyncStats {
  /** Live (not deleted) rows per followed band and table, here and on the server (`null`: unreachable). */
  tables: { table: string; bandId: string; local: number; server: number | null }[];
  outbox: OutboxEntry[];
  conflicts: number;
  unread: UnreadCounts;
  connection: ConnectionInfo;
  log: (SyncEvent & { at: number })[];
  /** This origin's storage as the browser reports it (`null` where it does not). */
  storage: { usage: number; quota: number; persisted: boolean } | null;
}

/** A band member online, over all their tabs and devices. */
export interface PresenceMember {
  userId: string;
  /** Tabs and devices they are present with. */
  sessions: number;
  /** What their newest session shows, as the app set it with `setPresence`. */
  meta: Record<string, unknown>;
  /** The row one of their sessions is editing (`editing: { table, id }` in its meta). */
  editing: { table: string; id: string } | null;
}

/** Another member editing a row (`SyncClient.editors`, `useEditors`). */
export interface Editor { userId: string; name: string | null; sessions: number }

/** How `resolveConflict` settles a conflict: the user's values, the server's, or chosen
 * values for some of the fields both sides changed (the app's field names). */
export type ConflictChoice = 'mine' | 'theirs' | Record<string, unknown>;

/** One change by another member, as the activity feed keeps it. */
export interface ActivityEntry {
  /** Unique; entries sort by it as they were seen. */
  id: string;
  bandId: string;
  author: string;
  authorName: string | null;
  action: 'added' | 'updated' | 'deleted';
  table: string;
  rowId: string;
  label: string | null;
  /** When it was seen here, epoch milliseconds. */
  at: number;
  read: boolean;
}

/** Options of `SyncClient.activity`. */
export interface ActivityOptions {
  /** At most this many entries (50 by default). */
  limit?: number;
  /** Only entries older than the one with this id (the last of the previous page). */
  before?: string;
}

/** A band's activity feed changed: new entries, or entries read. */
export interface ActivityEvent { type: 'activity'; bandId: string; unread: number }

/** Who of a band is online now. */
export interface PresenceEvent { type: 'presence'; bandId: string; members: PresenceMember[] }

/** Unread rows: in total, and per band and table. */
export interface UnreadCounts { total: number; byBand: Record<string, Record<string, number>> }

/** One unread row. */
export interface UnreadMark { key: string; table: string; bandId: string; id: string }

/** A toast for the app to render — as text, never as HTML. */
export interface SyncNotification {
  type: 'notification';
  /** A notification with an id already shown replaces it: an author's first change shows at
   * once, and the same toast becomes "3 changes by Alice" when their window closes. */
  id: number;
  kind: 'changes' | 'connectionLost' | 'connectionRestored' | 'conflict';
  text: string;
  /** The author's user id; null for summaries and connection toasts. */
  author: string | null;
  /** How many changes it stands for. */
  count: number;
}

/** The events of `SyncClient.on`, by name. */
export type SyncEventMap = { [K in SyncEvent['type']]: Extract<SyncEvent, { type: K }> } & {
  'songs:changed': ChangeEvent; 'setlists:changed': ChangeEvent; 'shows:changed': ChangeEvent;
  'practices:changed': ChangeEvent; '*': SyncEvent;
} & { [alias: `${string}:changed`]: ChangeEvent };

export interface SyncClient {
  /**
   * Calls `listener` for every event named `event`: a `type` (`change`, `connection`,
   * `unread`, `notification`, …), a table's `<alias>:changed`, or `*` for all. Returns the
   * function that unsubscribes; calling it twice is harmless.
   */
  on<K extends keyof SyncEventMap>(event: K, listener: (event: SyncEventMap[K]) => void): () => void;
}

export interface TableSchema {
  name: string;
  alias: string;
  scope: string;
  label?: string;
  fields: { name: string; type: 'text' | 'integer' | 'number' | 'boolean' | 'timestamp' | 'uuid' | 'json' | 'uuidArray'; required?: boolean }[];
}

export interface ListOptions { includeDeleted?: boolean; orderBy?: string; descending?: boolean; limit?: number }

export type SyncStatus = 'synced' | 'syncing' | 'pending' | 'error' | 'conflict';

export interface PushError { status: number; code: string | null; message: string }

export interface OutboxEntry {
  seq: number; table: string; rowId: string; op: 'insert' | 'update' | 'delete';
  fields: Record<string, unknown>; base: Record<string, unknown> | null; attempts: number;
  failed: PushError | null; lastError: PushError | null;
}

export interface FieldConflict { field: string; base: unknown; local: unknown; remote: unknown; kept: unknown }

export interface ConflictRecord {
  key: string; table: string; rowId: string; local: Record<string, unknown>;
  remote: Record<string, unknown> | null; fields: FieldConflict[]; deletedRemotely: boolean;
  /** Outbox position of the write that met the conflict (a later write's value wins a field). */
  seq: number;
}

export interface ConnectionInfo {
  state: ConnectionState; latencyMs: number | null; reconnects: number;
  lastError: string | null; polling: boolean; bands: string[];
  /** Whether this tab leads (holds the socket); otherwise the figures are the leading tab's. */
  leader: boolean;
  /** Writes waiting for the server ("3 pending"). */
  pendingCount: number;
  /** Writes the server refused, kept until retried or discarded. */
  failedCount: number;
  /** When the server last confirmed this client's data (a pull completed or a push settled),
   * epoch milliseconds; `null` before the first ("synced 2 min ago"). */
  lastSyncedAt: number | null;
  /** Bands whose catch-up pull is running: rows read of the rows the server counted
   * ("syncing 1,200 of 5,000"); a band is gone from it once its pull ends. */
  progress: Record<string, PullProgress>;
  /** Set while most of the storage quota is used (see `storageWarningRatio`): writes may soon
   * fail with `quota_exceeded`. */
  storageWarning: { usage: number; quota: number; persisted: boolean } | null;
}

/** How far a band's pull has come. */
export interface PullProgress { done: number; total: number }

/** A band's catch-up pull read another page, or ended (`finished`, then `done === total`). */
export interface ProgressEvent { type: 'progress'; bandId: string; done: number; total: number; finished: boolean }

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'error';

/** Rows of one table and band changed in the local cache. */
export interface ChangeEvent {
  type: 'change'; table: string; alias: string; bandId: string; ids: string[];
  action: 'insert' | 'update' | 'upsert' | 'delete';
  /** `local`: this client's write; `server`: the server's answer to it; `remote`: another
   * member's change; `pull`: found by a catch-up; `purge`: the user left the band. */
  source: 'local' | 'server' | 'remote' | 'pull' | 'purge';
}

/** Everything `SyncClient.on` delivers. */
export type SyncEvent =
  | ChangeEvent
  | ({ type: 'unread' } & UnreadCounts)
  | SyncNotification
  | { type: 'syncStatus'; table: string; id: string; status: SyncStatus }
  | { type: 'conflict'; table: string; id: string; local: Record<string, unknown>; remote: Record<string, unknown> | null; fields: FieldConflict[]; deletedRemotely: boolean }
  | { type: 'bands'; joined: string[]; left: string[]; bands: string[] }
  | { type: 'auth'; reason: 'tokenExpired' }
  | { type: 'storage'; state: 'closed' | 'reopened' | 'outdated'; message?: string }
  | { type: 'storage'; state: 'nearlyFull'; usage: number; quota: number; persisted: boolean }
  | { type: 'error'; code: SyncErrorCode; message: string }
  | PresenceEvent
  | { type: 'leader'; leader: boolean }
  /** The user signed out in another tab; this client is closed. */
  | { type: 'signedOut' }
  | ActivityEvent
  | ProgressEvent
  | Exclude<RealtimeEvent, { type: 'change' | 'needToken' | 'presence' }>;

/** What the Realtime connection reports (`RealtimeConnection.on`, and through `SyncClient.on`). */
export type RealtimeEvent =
  | { type: 'connection'; state: ConnectionState; attempt?: number; delayMs?: number; reason?: string }
  | { type: 'latency'; ms: number }
  | { type: 'channel'; topic: string; state: 'pending' | 'joining' | 'joined' | 'subscribed' | 'errored' | 'awaiting-token' | 'leaving' | 'failed' | 'closed' }
  | { type: 'catchUp'; topic: string; reason: 'subscribed' | 'visible' | 'online' | 'token-refreshed' }
  | { type: 'channelError'; topic: string; code: string; message: string; recovery: 'needToken' | 'backoff' | 'stop' }
  | { type: 'needToken' }
  | { type: 'change'; topic: string; schema: string; table: string; kind: 'INSERT' | 'UPDATE' | 'DELETE'; commitTimestamp: string; record: Record<string, unknown> | null; oldRecord: Record<string, unknown> | null; needsFetch: boolean }
  | { type: 'presence'; topic: string; state: Record<string, Record<string, unknown>[]> }
  | { type: 'broadcast'; topic: string; event: string; payload: unknown }
  | { type: 'pushFailed'; topic: string; push: 'join' | 'leave' | 'presence' | 'broadcast'; reason: string }
  | { type: 'protocolError'; message: string };

/** Errors thrown or rejected by the module: real `Error`s with a stable `code`. */
export interface SyncErrorObject extends Error { code: string }
