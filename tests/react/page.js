// The React bindings in a real browser: bob's client behind a SyncProvider in StrictMode, with
// components that count their renders, driven by tests/react/run.mjs.
import { StrictMode, createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { SyncClient } from 'rockon-sync';
import {
  SyncProvider, useSongs, useSetlists, useRow, useConnection, useUnread, useNotifications,
  useSyncStatus, usePresence, useSyncClient,
} from 'rockon-sync/react';
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { syncQueryClient } from 'rockon-sync/react-query';

const params = new URLSearchParams(location.search);
const url = params.get('url');
const anonKey = params.get('anon');
const band = params.get('band');
const renders = { songs: 0, setlists: 0, status: 0, row: 0 };
window.renders = renders;

function Songs() {
  const { rows, loading } = useSongs(band, { orderBy: 'title' });
  renders.songs += 1;
  if (loading) return h('p', { id: 'songs-loading' }, 'Loading…');
  return h('ul', { id: 'songs' }, rows.map((song) => h('li', { key: song.id, 'data-id': song.id }, song.title)));
}

function SetlistCount() {
  const { rows } = useSetlists(band);
  renders.setlists += 1;
  return h('p', { id: 'setlists' }, String(rows.length));
}

function Watched({ id }) {
  const status = useSyncStatus('songs', id);
  const { row } = useRow('songs', id);
  renders.status += 1;
  return h('p', { id: 'watched', 'data-status': status }, row ? `${row.title}: ${status}` : 'none');
}

function Header() {
  const connection = useConnection();
  const unread = useUnread(band);
  const people = usePresence(band, { view: 'songs' });
  return h('header', null,
    h('span', { id: 'connection' }, connection.state),
    h('span', { id: 'unread' }, String(unread.total)),
    h('span', { id: 'presence' }, people.map((p) => p.userId).join(',')));
}

function Toasts() {
  const { notifications, dismiss } = useNotifications();
  return h('ol', { id: 'toasts' }, notifications.map((n) =>
    h('li', { key: n.id, onClick: () => dismiss(n.id) }, n.text)));
}

// An app's own React Query code, unchanged: the query never goes stale by itself (staleTime
// Infinity), so only rockon-sync's invalidation can make it fetch again.
const queryClient = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
let queryFetches = 0;
window.queryFetches = () => queryFetches;

function QueriedSongCount() {
  const client = useSyncClient();
  const { data } = useQuery({
    queryKey: ['songs', band, 'count'],
    queryFn: async () => {
      queryFetches += 1;
      return (await client.list('songs', band)).length;
    },
  });
  return h('p', { id: 'queried' }, data == null ? '' : String(data));
}

function App({ watched }) {
  return h(QueryClientProvider, { client: queryClient },
    h('main', null, h(Header), h(Toasts), h(Songs), h(SetlistCount), h(QueriedSongCount),
      watched ? h(Watched, { id: watched }) : null));
}

async function main() {
  const response = await fetch(`${url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bob@rockon.test', password: 'rockon' }),
  });
  const session = await response.json();
  const client = await SyncClient.open({
    supabaseUrl: url, anonKey, accessToken: session.access_token, userId: session.user.id,
    databaseName: `react-${Date.now()}`, notifications: { windowMs: 300 },
  });
  client.connect();
  syncQueryClient(client, queryClient);
  const root = createRoot(document.body.appendChild(document.createElement('div')));
  const render = (watched) => root.render(h(StrictMode, null, h(SyncProvider, { client }, h(App, { watched }))));
  render(null);
  window.createSong = async (title) => {
    const song = await client.create('songs', { bandId: band, title });
    render(song.id);
    return song.id;
  };
  window.unmount = () => root.unmount();
  // The band's first download is over (it can take several pages): counts stop moving.
  window.downloaded = () => {
    const info = client.connectionInfo();
    return info.lastSyncedAt !== null && !info.progress[band];
  };
  return true;
}

main().then(() => { window.ready = { ok: true }; }, (error) => { window.ready = { ok: false, error: String(error) }; });
