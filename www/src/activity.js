// The bell: other members' changes to the band, kept across reloads, with an unread count.
// Opening an entry reads it (and its row); the row's unread badge goes with it.
import { useState } from 'react';
import { html } from './html.js';
import { useActivity } from 'rockon-sync/react';


const VERBS = { added: 'added', updated: 'updated', deleted: 'deleted' };

export function ActivityBell({ bandId, onOpen }) {
  const { entries, unread, markRead } = useActivity(bandId, 50);
  const [open, setOpen] = useState(false);
  const describe = (entry) => {
    const who = entry.authorName ?? 'Someone';
    const what = entry.label ? `'${entry.label}'` : `a ${entry.table.replace(/s$/, '').replace('_', ' ')}`;
    return `${who} ${VERBS[entry.action] ?? entry.action} ${what}`;
  };
  return html`
    <span class="bell">
      <button class="ghost" data-testid="activity-bell" title="What others changed" onClick=${() => setOpen(!open)}>
        Activity${unread ? html` <span class="count" data-testid="activity-count">${unread}</span>` : null}
      </button>
      ${open ? html`
        <div class="bell-list" data-testid="activity-list">
          <div class="actions">
            <button class="ghost" data-testid="activity-read-all" disabled=${!unread} onClick=${() => markRead()}>Mark all read</button>
          </div>
          ${entries.length === 0 ? html`<p class="empty">Nothing yet.</p>` : null}
          <ol>
            ${entries.map((entry) => html`
              <li key=${entry.id} class=${entry.read ? '' : 'unread'} data-testid="activity-entry"
                  data-read=${String(entry.read)} data-row=${entry.rowId}
                  onClick=${() => { markRead([entry.id]); setOpen(false); if (entry.action !== 'deleted') onOpen(entry.table, entry.rowId); }}>
                ${describe(entry)}
                <time>${new Date(entry.at).toLocaleTimeString()}</time>
              </li>`)}
          </ol>
        </div>` : null}
    </span>`;
}
