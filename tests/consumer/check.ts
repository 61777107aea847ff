// A TypeScript consumer of the package: `tsc -p tests/consumer` must accept this, so the
// declared surface stays usable (and wrong uses below must stay errors).
import {
  SyncClient, type SyncEvent, type Row, type SyncStatus, type ConnectionInfo, type UnreadCounts,
  type SyncFailure,
} from 'rockon-sync';

export async function example(): Promise<void> {
  const client: SyncClient = await SyncClient.open({
    supabaseUrl: 'https://example.supabase.co',
    anonKey: 'anon',
    accessToken: 'token',
    userId: 'user',
    conflictPolicy: 'serverWins',
    changes: 'broadcast',
  });
  const unsubscribe: () => void = client.on('*', (event: SyncEvent) => {
    switch (event.type) {
      case 'change':
        console.log(event.alias, event.bandId, event.ids.length, event.source);
        break;
      case 'notification':
        console.log(event.kind, event.text, event.author, event.count);
        break;
      case 'syncStatus': {
        const status: SyncStatus = event.status;
        console.log(status);
        break;
      }
      case 'conflict':
        console.log(event.fields.map((f) => f.field), event.deletedRemotely);
        break;
      case 'connection':
        console.log(event.state, event.delayMs);
        break;
      case 'error':
        console.log(event.code, event.message);
        break;
    }
  });
  const song: Row = await client.create('songs', { bandId: 'b1', title: 'Wonderwall' });
  const songs: Row[] = await client.list('songs', 'b1', { orderBy: 'title', limit: 10 });
  const one: Row | undefined = await client.get('songs', song.id);
  await client.update('songs', song.id, { key: 'F#m' });
  await client.remove('songs', song.id);
  const info: ConnectionInfo = client.connectionInfo();
  const written: number = await client.applyServerRows('songs', [{ id: 'x', version: 1 }]);
  const stopSongs = client.on('songs:changed', (event) => console.log(event.ids, event.source));
  const stopUnread = client.on('unread', (event) => console.log(event.total, event.byBand));
  const counts: UnreadCounts = client.unread();
  client.markRead('songs', song.id);
  const cleared: number = client.markAllRead('b1', 'songs');
  console.log(songs.length, one?.version, info.state, written, client.status('songs', song.id));
  console.log(counts.total, cleared, client.unreadRows('b1').map((m) => m.id));
  // @ts-expect-error: options are checked
  await SyncClient.open({ supabaseUrl: 'x' });
  // @ts-expect-error: changes arrive one of two ways
  await SyncClient.open({ supabaseUrl: 'x', anonKey: 'a', accessToken: 't', userId: 'u', changes: 'polling' });
  // @ts-expect-error: listeners receive typed events
  client.on('change', (event: number) => event);
  // @ts-expect-error: a connection event has no ids
  client.on('connection', (event) => event.ids);
  try {
    await client.update('songs', 'gone', { title: 'x' });
  } catch (error) {
    const failure = error as SyncFailure;
    if (failure.code === 'quota_exceeded' || failure.code === 'not_found') console.log(failure.message);
    // @ts-expect-error: codes are the ones the module produces
    if (failure.code === 'quota_exceded') console.log('never');
  }
  client.on('error', (event) => {
    // @ts-expect-error: error events carry the same codes
    if (event.code === 'no_such_code') console.log(event.message);
  });
  unsubscribe();
  stopSongs();
  stopUnread();
  client.close();
}
