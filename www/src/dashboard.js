// The developer dashboard (the client opened with `devtools: true`): local against server
// counts and storage, the requests the layer made, a conflict simulator, the outbox, the sync
// log kept across reloads with filters, a chart of how long changes took to arrive, and the
// levers (force sync, purge the local cache, export everything as JSON). Loaded on first use.
import { useEffect, useState } from 'react';
import { useSyncClient, useRows } from 'rockon-sync/react';
import { html } from './html.js';
import { Backend } from './backend.js';
import { SECTIONS } from './tables.js';

const KINDS = ['change', 'connection', 'conflict', 'error', 'bands', 'storage', 'auth', 'channelError'];

export function Dashboard({ onClose, bandId, backend, me, names }) {
  const client = useSyncClient();
  const [stats, setStats] = useState(null);
  const [requests, setRequests] = useState([]);
  const [latencies, setLatencies] = useState([]);
  const [log, setLog] = useState([]);
  const [filter, setFilter] = useState({ kind: '', table: '' });
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    const load = () => {
      client.stats().then((s) => live && setStats(s), () => {});
      setRequests(client.requests());
      setLatencies(client.latencies());
      client.devtoolsLog({ kind: filter.kind || undefined, table: filter.table || undefined, limit: 100 })
        .then((entries) => live && setLog(entries), () => {});
    };
    load();
    const timer = setInterval(load, 1000);
    return () => { live = false; clearInterval(timer); };
  }, [client, filter]);

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
        </ul>` : html`<p>Loading…</p>`}
      <h3>Propagation</h3>
      <${LatencyChart} samples=${latencies} />
      <h3>Conflict simulator</h3>
      ${bandId ? html`<${ConflictSimulator} bandId=${bandId} backend=${backend} me=${me} names=${names} />` : null}
      <h3>Requests (${requests.length})</h3>
      <table data-testid="requests">
        <thead><tr><th>Method</th><th>Path</th><th>Status</th><th>ms</th><th>Bytes</th></tr></thead>
        <tbody>
          ${requests.slice(-30).reverse().map((r) => html`
            <tr key=${`${r.at}-${r.path}`} data-testid="request" class=${r.status === 0 || r.status >= 400 ? 'differs' : ''}>
              <td>${r.method}</td><td class="path" title=${r.path}>${r.path.split('?')[0]}</td>
              <td>${r.status || 'none'}</td><td>${Math.round(r.durationMs)}</td><td>${r.bytes}</td>
            </tr>`)}
        </tbody>
      </table>
      <h3>Sync log</h3>
      <div class="inline">
        <select data-testid="log-kind" value=${filter.kind} onChange=${(e) => setFilter({ ...filter, kind: e.target.value })}>
          <option value="">every kind</option>
          ${KINDS.map((kind) => html`<option key=${kind} value=${kind}>${kind}</option>`)}
        </select>
        <select data-testid="log-table" value=${filter.table} onChange=${(e) => setFilter({ ...filter, table: e.target.value })}>
          <option value="">every table</option>
          ${SECTIONS.map((s) => html`<option key=${s.table} value=${s.table}>${s.table}</option>`)}
        </select>
      </div>
      <ol class="log" data-testid="sync-log">
        ${log.map((e, i) => html`
          <li key=${i} data-testid="log-entry" data-kind=${e.type}><time>${new Date(e.at).toLocaleTimeString()}</time> ${describe(e)}</li>`)}
      </ol>
    </aside>`;
}

/** Milliseconds from commit to arrival of the last changes, as a line, with the median. */
function LatencyChart({ samples }) {
  const recent = samples.filter((s) => s.at > Date.now() - 5 * 60_000);
  if (recent.length === 0) return html`<p class="empty" data-testid="latency-chart" data-points="0">No changes from others yet.</p>`;
  const max = Math.max(...recent.map((s) => s.ms), 1);
  const [width, height] = [300, 60];
  const points = recent.map((s, i) => {
    const x = recent.length === 1 ? width : (i / (recent.length - 1)) * width;
    return `${x.toFixed(1)},${(height - (Math.max(0, s.ms) / max) * height).toFixed(1)}`;
  }).join(' ');
  const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return html`
    <div data-testid="latency-chart" data-points=${recent.length}>
      <svg width=${width} height=${height} class="chart" role="img" aria-label="propagation latency">
        <polyline points=${points} fill="none" stroke="currentColor" stroke-width="1.5" />
      </svg>
      <p class="detail">${recent.length} changes in 5 min · median ${Math.round(median)} ms · max ${Math.round(max)} ms</p>
    </div>`;
}

/** Edits a row on the server as another member, to see what the sync layer makes of it. */
function ConflictSimulator({ bandId, backend, me, names }) {
  const { rows } = useRows('songs', bandId, { orderBy: 'title' });
  const others = ['alice', 'bob'].filter((user) => names.get(me)?.toLowerCase() !== user);
  const [choice, setChoice] = useState({ id: '', as: others[0], field: 'title', value: '' });
  const [result, setResult] = useState(null);
  const run = async () => {
    setResult(null);
    try {
      const other = new Backend({ url: backend.url, anonKey: backend.anonKey });
      await other.signIn(`${choice.as}@rockon.test`, 'rockon');
      await other.rest('PATCH', `songs?id=eq.${choice.id || rows[0]?.id}`, { [choice.field]: choice.value });
      setResult(`Changed on the server as ${choice.as}.`);
    } catch (error) {
      setResult(`Failed: ${error.message}`);
    }
  };
  return html`
    <div class="simulator" data-testid="simulator">
      <select data-testid="sim-row" value=${choice.id} onChange=${(e) => setChoice({ ...choice, id: e.target.value })}>
        ${rows.map((row) => html`<option key=${row.id} value=${row.id}>${row.title}</option>`)}
      </select>
      <select data-testid="sim-field" value=${choice.field} onChange=${(e) => setChoice({ ...choice, field: e.target.value })}>
        ${['title', 'key', 'notes'].map((field) => html`<option key=${field} value=${field}>${field}</option>`)}
      </select>
      <input data-testid="sim-value" value=${choice.value} placeholder="new value" onChange=${(e) => setChoice({ ...choice, value: e.target.value })} />
      <select data-testid="sim-as" value=${choice.as} onChange=${(e) => setChoice({ ...choice, as: e.target.value })}>
        ${others.map((user) => html`<option key=${user} value=${user}>as ${user}</option>`)}
      </select>
      <button data-testid="sim-run" disabled=${!rows.length} onClick=${run}>Edit on the server</button>
      ${result ? html`<p class="detail" data-testid="sim-result">${result}</p>` : null}
    </div>`;
}

function describe(event) {
  switch (event.type) {
    case 'change': return `${event.source}: ${event.action} ${event.ids.length} ${event.table}`;
    case 'connection': return `connection ${event.state}`;
    case 'error': return `error ${event.code}: ${event.message}`;
    case 'conflict': return `conflict on ${event.table} ${event.id.slice(0, 8)}`;
    case 'bands': return `bands: +${event.joined.length} −${event.left.length}`;
    case 'storage': return `storage ${event.state}`;
    default: return event.type;
  }
}
