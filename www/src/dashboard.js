// The developer dashboard: local against server counts, the outbox, the sync log, and the
// levers (force sync, purge the local cache, export everything as JSON).
import { useEffect, useState } from 'react';
import { useSyncClient } from 'rockon-sync/react';
import { html } from './app.js';

export function Dashboard({ onClose }) {
  const client = useSyncClient();
  const [stats, setStats] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    const load = () => client.stats().then((s) => live && setStats(s), () => {});
    load();
    const timer = setInterval(load, 2000);
    return () => { live = false; clearInterval(timer); };
  }, [client]);

  const purge = async () => {
    setBusy(true);
    try { await client.purgeLocal(); } finally { setBusy(false); }
  };
  const exportJson = async () => {
    const text = await client.exportJson();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    link.download = `rockon-sync-${new Date().toISOString()}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  };

  return html`
    <aside class="panel" data-testid="dashboard">
      <div class="panel-head"><h2>Sync dashboard</h2><button class="ghost" onClick=${onClose}>×</button></div>
      <div class="actions">
        <button data-testid="force-sync" onClick=${() => client.forceSync()}>Force sync</button>
        <button data-testid="purge" disabled=${busy} onClick=${purge}>Purge local cache</button>
        <button data-testid="export" onClick=${exportJson}>Export JSON</button>
      </div>
      ${stats ? html`
        <h3>Rows (live)</h3>
        <table data-testid="counts">
          <thead><tr><th>Table</th><th>Local</th><th>Server</th></tr></thead>
          <tbody>
            ${stats.tables.map((t) => html`
              <tr key=${t.table + t.bandId} class=${t.server !== null && t.server !== t.local ? 'differs' : ''}>
                <td>${t.table}</td><td>${t.local}</td><td>${t.server ?? '–'}</td>
              </tr>`)}
          </tbody>
        </table>
        ${stats.storage ? html`
          <p data-testid="storage">
            Storage: ${(stats.storage.usage / 1e6).toFixed(1)} MB of ${(stats.storage.quota / 1e6).toFixed(0)} MB
            ${stats.storage.persisted ? ' (persistent)' : ' (may be evicted under pressure)'}
          </p>` : null}
        <h3>Outbox (${stats.outbox.length})</h3>
        <ul class="outbox" data-testid="outbox">
          ${stats.outbox.map((e) => html`
            <li key=${e.seq}>
              ${e.op} ${e.table} ${e.rowId.slice(0, 8)} ${e.failed ? html`<strong>refused: ${e.failed.message}</strong>` : null}
              ${e.failed ? html`<button onClick=${() => client.retry(e.seq)}>Retry</button>
                                <button onClick=${() => client.discard(e.seq)}>Discard</button>` : null}
            </li>`)}
        </ul>
        <h3>Sync log</h3>
        <ol class="log" data-testid="sync-log">
          ${stats.log.slice(-40).reverse().map((e, i) => html`
            <li key=${i}><time>${new Date(e.at).toLocaleTimeString()}</time> ${describe(e)}</li>`)}
        </ol>` : html`<p>Loading…</p>`}
    </aside>`;
}

function describe(event) {
  switch (event.type) {
    case 'change': return `${event.source}: ${event.action} ${event.ids.length} ${event.table}`;
    case 'connection': return `connection ${event.state}`;
    case 'error': return `error ${event.code}: ${event.message}`;
    case 'conflict': return `conflict on ${event.table} ${event.id.slice(0, 8)}`;
    case 'bands': return `bands: +${event.joined.length} −${event.left.length}`;
    default: return event.type;
  }
}
