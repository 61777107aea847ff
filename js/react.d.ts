// Types of rockon-sync/react.
import type { ReactNode, ReactElement } from 'react';
import type {
  SyncClient, Row, ListOptions, ConnectionInfo, SyncStatus, PresenceMember, SyncNotification,
  ConflictRecord, ConflictChoice, ActivityEntry, Editor,
} from './rockon_sync.js';

/** Makes `client` (an open `SyncClient`) available to the hooks below it. */
export function SyncProvider(props: { client: SyncClient; children?: ReactNode }): ReactElement;

/** The `SyncClient` of the nearest `SyncProvider` (throws outside one). */
export function useSyncClient(): SyncClient;

/** Live rows of a band's table. `rows` keeps its identity while nothing changed. */
export interface RowsState { rows: readonly Row[]; loading: boolean; error: Error | null }

/** The live rows of a band's table. */
export function useRows(table: string, bandId: string | null | undefined, options?: ListOptions): RowsState;
export function useSongs(bandId: string | null | undefined, options?: ListOptions): RowsState;
export function useSetlists(bandId: string | null | undefined, options?: ListOptions): RowsState;
export function useShows(bandId: string | null | undefined, options?: ListOptions): RowsState;
export function usePractices(bandId: string | null | undefined, options?: ListOptions): RowsState;

/** One row, live (`row` is undefined when there is none). */
export function useRow(table: string, id: string | null | undefined): { row: Row | undefined; loading: boolean; error: Error | null };

/** The connection for an indicator. */
export function useConnection(): ConnectionInfo;

/** Unread counts of one band. */
export interface BandUnread { total: number; byTable: Record<string, number> }
/** Unread counts of one band, or of every band without one. */
export function useUnread(bandId: string): BandUnread;
export function useUnread(): { total: number; byBand: Record<string, Record<string, number>> };

/** The ids of a band's unread rows (all bands without one), optionally of one table. */
export function useUnreadIds(bandId?: string | null, table?: string): ReadonlySet<string>;

/** A row's sync status. */
export function useSyncStatus(table: string, id: string): SyncStatus;

/** Who of the band is online; with `meta`, also shows them what this user is viewing. */
export function usePresence(bandId: string | null | undefined, meta?: Record<string, unknown>): PresenceMember[];

/** The recorded conflicts and a way to settle one. */
export function useConflicts(): {
  conflicts: readonly ConflictRecord[];
  resolve(table: string, id: string, choice: ConflictChoice): Promise<void>;
};

/** A band's activity feed, newest first, with its unread count. */
export function useActivity(bandId: string | null | undefined, limit?: number): {
  entries: readonly ActivityEntry[];
  unread: number;
  markRead(ids?: string[]): number;
};

/** The other members editing a row now. */
export function useEditors(table: string | null | undefined, id: string | null | undefined): Editor[];

/** A notification kept for display. */
export type ShownNotification = SyncNotification & { id: number };
/** Notifications to show as toasts, newest last. Render `text` as text, never as HTML. */
export function useNotifications(max?: number): {
  notifications: readonly ShownNotification[];
  dismiss(id: number): void;
};
