// The RockOn demo: a band's songs, setlists, shows and practices, synced live by rockon-sync.
// Everything other people typed is rendered as text (React escapes it); nothing here uses
// innerHTML.
import { Suspense, lazy, useEffect, useMemo, useState } from 'react';
import { html } from './html.js';
import {
  useSyncClient, useRows, useConnection, useUnread, useUnreadIds, useNotifications,
  useSyncStatus, usePresence,
} from 'rockon-sync/react';
import { SECTIONS } from './tables.js';
import { Editor } from './editor.js';
import { ActivityBell } from './activity.js';
import { BandManager } from './bands.js';

// The developer dashboard is its own chunk, loaded when first opened.
const Dashboard = lazy(() => import('./dashboard.js').then((module) => ({ default: module.Dashboard })));

export function App({ backend, me, names }) {
  const client = useSyncClient();
  const [bands, setBands] = useState([]);
  const [bandId, setBandId] = useState(null);
  const [sectionIndex, setSectionIndex] = useState(0);
  const [openId, setOpenId] = useState(null);
  const [panel, setPanel] = useState(null);
  const [offline, setOffline] = useState(false);
  const [storageDismissed, setStorageDismissed] = useState(false);
  const { storageWarning } = useConnection();
  const storage = storageDismissed ? null : storageWarning;
  const section = SECTIONS[sectionIndex];

  // The band list follows memberships: a band created or joined elsewhere appears by itself.
  useEffect(() => {
    const load = () => backend.bands().then(setBands, () => {});
    load();
    return client.on('bands', load);
  }, [client, backend]);
  useEffect(() => {
    if (bands.length && !bands.some((b) => b.id === bandId)) setBandId(bands[0].id);
  }, [bands, bandId]);

  const openRow = (table, rowId) => {
    const index = SECTIONS.findIndex((s) => s.table === table);
    if (index < 0) return;
    setSectionIndex(index);
    setOpenId(rowId);
  };

  const toggleOffline = () => {
    client.setOnline(offline);
    setOffline(!offline);
  };

  return html`
    <div class="app">
      <header class="top">
        <span class="brand">RockOn</span>
        <select data-testid="band-picker" value=${bandId ?? ''} onChange=${(e) => { setBandId(e.target.value); setOpenId(null); }}>
          ${bands.map((band) => html`<option key=${band.id} value=${band.id}>${band.name}</option>`)}
        </select>
        <${Presence} bandId=${bandId} view=${section.table} itemId=${openId} names=${names} me=${me} />
        ${bandId ? html`<${ActivityBell} bandId=${bandId} onOpen=${openRow} />` : null}
        <span class="spacer" />
        <label class="toggle" title="Stop talking to the server, as on a plane">
          <input type="checkbox" data-testid="offline" checked=${offline} onChange=${toggleOffline} /> offline
        </label>
        <${ConnectionIndicator} />
        <button class="ghost" data-testid="bands-button" onClick=${() => setPanel(panel === 'bands' ? null : 'bands')}>Bands</button>
        <button class="ghost" data-testid="dashboard-button" onClick=${() => setPanel(panel === 'dashboard' ? null : 'dashboard')}>Dev</button>
        <span class="me" title=${names.get(me)}>${initials(names.get(me))}</span>
      </header>
      ${storage ? html`
        <p class="storage-warning" data-testid="storage-warning">
          Storage nearly full: ${megabytes(storage.usage)} of ${megabytes(storage.quota)} used. Changes are kept,
          but new ones may not fit until space is freed.
          <button class="ghost" onClick=${() => setStorageDismissed(true)}>Dismiss</button>
        </p>` : null}
      ${bandId ? html`<${Sections} bandId=${bandId} current=${sectionIndex} onSelect=${(i) => { setSectionIndex(i); setOpenId(null); }} />` : null}
      <main class="content">
        ${bandId
          ? html`<${ItemList} key=${section.table + bandId} section=${section} bandId=${bandId} openId=${openId} onOpen=${setOpenId} />
                 ${openId ? html`<${Editor} key=${openId} section=${section} bandId=${bandId} id=${openId} names=${names} onClose=${() => setOpenId(null)} />` : null}`
          : html`<p class="empty">No band yet: create one under Bands.</p>`}
      </main>
      ${panel === 'dashboard' ? html`<${Suspense} fallback=${null}><${Dashboard} onClose=${() => setPanel(null)} bandId=${bandId} backend=${backend} me=${me} names=${names} /></${Suspense}>` : null}
      ${panel === 'bands' ? html`<${BandManager} backend=${backend} bandId=${bandId} names=${names} onClose=${() => setPanel(null)} />` : null}
      <${Toasts} />
    </div>`;
}

function Sections({ bandId, current, onSelect }) {
  const unread = useUnread(bandId);
  return html`
    <nav class="sections">
      ${SECTIONS.map((section, i) => {
        const count = unread.byTable[section.table] ?? 0;
        return html`
          <button key=${section.table} class=${i === current ? 'active' : ''} data-testid=${`section-${section.table}`}
                  onClick=${() => onSelect(i)}>
            ${section.title}${count ? html` <span class="count" data-testid=${`unread-${section.table}`}>${count}</span>` : null}
          </button>`;
      })}
    </nav>`;
}

function ItemList({ section, bandId, openId, onOpen }) {
  const { rows, loading, error } = useRows(section.table, bandId, { orderBy: section.orderBy });
  const unread = useUnreadIds(bandId, section.table);
  const progress = useConnection().progress?.[bandId];
  return html`
    <section class="list">
      <div class="list-head">
        <h2>${section.title}</h2>
        <button data-testid="new-item" onClick=${() => onOpen('new')}>New ${section.noun}</button>
      </div>
      ${progress && progress.total > 0 ? html`
        <div class="progress" data-testid="sync-progress">
          <progress value=${progress.done} max=${progress.total} />
          <span>Syncing ${progress.done.toLocaleString('en')} of ${progress.total.toLocaleString('en')}</span>
        </div>` : null}
      ${error ? html`<p class="error">${error.message}</p>` : null}
      ${loading ? html`<p class="empty">Loading…</p>` : null}
      ${!loading && rows.length === 0 ? html`<p class="empty">No ${section.title.toLowerCase()} yet.</p>` : null}
      <ul data-testid="items">
        ${rows.map((row) => html`
          <${Item} key=${row.id} section=${section} row=${row} unread=${unread.has(row.id)}
                   open=${row.id === openId} onOpen=${() => onOpen(row.id)} />`)}
      </ul>
    </section>`;
}

function Item({ section, row, unread, open, onOpen }) {
  const status = useSyncStatus(section.table, row.id);
  return html`
    <li class=${open ? 'item open' : 'item'} data-testid="item" data-id=${row.id} onClick=${onOpen}>
      <${StatusIcon} status=${status} />
      <div class="item-text">
        <span class="label" data-testid="item-label">${section.label(row) || '(untitled)'}</span>
        <span class="detail">${section.detail(row)}</span>
      </div>
      ${unread ? html`<span class="badge" data-testid="unread-badge" title="Changed by someone else">new</span>` : null}
    </li>`;
}

const STATUS = {
  synced: ['✓', 'Synced'], syncing: ['↻', 'Syncing'], pending: ['•', 'Waiting to sync'],
  error: ['!', 'Refused by the server'], conflict: ['⇄', 'Merged with a change from someone else'],
};

function StatusIcon({ status }) {
  const [symbol, title] = STATUS[status] ?? STATUS.synced;
  return html`<span class=${`status ${status}`} data-testid="sync-status" data-status=${status} title=${title}>${symbol}</span>`;
}

const COLORS = { connected: 'green', connecting: 'yellow', reconnecting: 'yellow', disconnected: 'yellow', offline: 'red', error: 'red' };

function ConnectionIndicator() {
  const client = useSyncClient();
  const info = useConnection();
  const [open, setOpen] = useState(false);
  const [, setTick] = useState(0);
  useEffect(() => {
    // "synced 2 min ago" ages without an event.
    const timer = setInterval(() => setTick((n) => n + 1), 10_000);
    return () => clearInterval(timer);
  }, []);
  const pending = info.pendingCount ?? 0;
  const failed = info.failedCount ?? 0;
  return html`
    <span class="connection">
      <button class=${`dot ${COLORS[info.state] ?? 'yellow'}`} data-testid="connection" data-state=${info.state}
              title=${info.state} onClick=${() => setOpen(!open)}>${info.state}</button>
      <span class="sync-state" data-testid="sync-state">
        ${pending ? html`<span data-testid="pending-count">${pending} pending</span>` : null}
        ${failed ? html`<span class="failed" data-testid="failed-count">${failed} failed</span>` : null}
        <span data-testid="last-synced">${syncedAgo(info.lastSyncedAt)}</span>
      </span>
      ${open ? html`
        <div class="popover" data-testid="connection-details">
          <dl>
            <dt>State</dt><dd>${info.state}${info.polling ? ' (polling over REST)' : ''}</dd>
            <dt>Latency</dt><dd>${info.latencyMs == null ? '–' : `${info.latencyMs} ms`}</dd>
            <dt>Reconnects</dt><dd>${info.reconnects}</dd>
            <dt>Pending writes</dt><dd data-testid="pending">${pending}</dd>
            <dt>Failed writes</dt><dd data-testid="failed">${failed}</dd>
            <dt>Last sync</dt><dd>${info.lastSyncedAt ? new Date(info.lastSyncedAt).toLocaleTimeString() : '–'}</dd>
            <dt>This tab</dt><dd>${info.leader ? 'holds the connection' : 'shares another tab\'s connection'}</dd>
            ${info.lastError ? html`<dt>Last error</dt><dd>${info.lastError}</dd>` : null}
          </dl>
          <button onClick=${() => client.reconnect()}>Reconnect</button>
        </div>` : null}
    </span>`;
}

/** "synced 2 min ago", from the server-confirmed time the library reports. */
function syncedAgo(at) {
  if (!at) return 'not synced yet';
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 10) return 'synced just now';
  if (seconds < 60) return `synced ${seconds} s ago`;
  return `synced ${Math.round(seconds / 60)} min ago`;
}

function Presence({ bandId, view, itemId, names, me }) {
  // An open item is being edited: others' editors say so.
  const meta = useMemo(() => ({
    view,
    itemId: itemId ?? null,
    editing: itemId && itemId !== 'new' ? { table: view, id: itemId } : null,
  }), [view, itemId]);
  const people = usePresence(bandId, meta).filter((p) => p.userId !== me);
  return html`
    <span class="presence" data-testid="presence">
      ${people.map((person) => html`
        <span key=${person.userId} class="avatar" data-testid="avatar" data-user=${person.userId}
              title=${`${names.get(person.userId) ?? 'Someone'} is viewing ${person.meta.view ?? 'the band'}`}>
          ${initials(names.get(person.userId))}
        </span>`)}
    </span>`;
}

function Toasts() {
  const { notifications, dismiss } = useNotifications(4);
  useEffect(() => {
    if (!notifications.length) return undefined;
    const oldest = notifications[0];
    const timer = setTimeout(() => dismiss(oldest.id), 6000);
    return () => clearTimeout(timer);
  }, [notifications, dismiss]);
  return html`
    <ol class="toasts" data-testid="toasts">
      ${notifications.map((n) => html`
        <li key=${n.id} class=${`toast ${n.kind}`} data-testid="toast" data-toast-id=${n.id} onClick=${() => dismiss(n.id)}>${n.text}</li>`)}
    </ol>`;
}

const megabytes = (bytes) => `${(bytes / 1_000_000).toFixed(1)} MB`;

export function initials(name) {
  return (name ?? '?').split(/\s+/).map((part) => part[0]).join('').slice(0, 2).toUpperCase();
}
