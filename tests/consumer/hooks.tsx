// A React + TypeScript consumer of `rockon-sync/react`: these uses must type-check.
import { createElement as h, type ReactElement } from 'react';
import type { SyncClient, Row } from 'rockon-sync';
import {
  SyncProvider, useSongs, useRow, useConnection, useUnread, useNotifications, useSyncStatus,
  usePresence, useConflicts, useActivity, useEditors, type RowsState,
} from 'rockon-sync/react';
import { syncQueryClient, type InvalidatingQueryClient } from 'rockon-sync/react-query';

function Songs({ bandId }: { bandId: string }): ReactElement {
  const { rows, loading, error }: RowsState = useSongs(bandId, { orderBy: 'title' });
  const unread = useUnread(bandId);
  const people = usePresence(bandId, { view: 'songs' });
  const connection = useConnection();
  const { notifications, dismiss } = useNotifications();
  const first: Row | undefined = rows[0];
  const status = useSyncStatus('songs', first?.id ?? '');
  const { row } = useRow('songs', first?.id);
  // @ts-expect-error: the band's unread counts are by table
  console.log(unread.byBand);
  console.log(loading, error?.message, unread.byTable, people.map((p) => p.userId), connection.state, status, row?.version);
  console.log(connection.pendingCount + connection.failedCount, connection.lastSyncedAt ?? 'never');
  const { conflicts, resolve } = useConflicts();
  void resolve('songs', conflicts[0]?.rowId ?? '', 'mine');
  void resolve('songs', 's1', { title: 'Chosen' });
  // @ts-expect-error: a conflict is settled one of three ways
  void resolve('songs', 's1', 'both');
  const { entries, unread: news, markRead } = useActivity(bandId);
  console.log(entries.map((e) => `${e.authorName ?? e.author} ${e.action} ${e.label ?? e.rowId}`), news, markRead([]));
  const editors = useEditors('songs', first?.id);
  console.log(editors.map((e) => e.name ?? e.userId));
  return h('ul', { onClick: () => notifications.forEach((n) => dismiss(n.id)) },
    rows.map((song) => h('li', { key: song.id }, String(song.title))));
}

/** An app with React Query stays fresh: any QueryClient-like object with invalidateQueries. */
export function keepQueriesFresh(client: SyncClient, queryClient: InvalidatingQueryClient): () => void {
  const stop = syncQueryClient(client, queryClient, {
    queryKey: (event) => (event.alias === 'songs' ? ['songs', event.bandId] : null),
    sources: ['remote', 'pull'],
  });
  // @ts-expect-error: sources are the change sources rockon-sync emits
  syncQueryClient(client, queryClient, { sources: ['somewhere'] });
  return stop;
}

export function App({ client }: { client: SyncClient }): ReactElement {
  return h(SyncProvider, { client }, h(Songs, { bandId: 'b1' }));
}
