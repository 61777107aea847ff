// Creating a band and adding members (bands and memberships are managed over REST; the sync
// layer follows the user's memberships and picks up the new band by itself).
import { useEffect, useState } from 'react';
import { html } from './html.js';

export function BandManager({ backend, bandId, names, onClose }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState([]);
  const [error, setError] = useState(null);
  const refresh = () => bandId && backend.members(bandId).then(setMembers, (e) => setError(e.message));
  useEffect(() => { refresh(); }, [bandId]);

  const create = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await backend.createBand(name.trim());
      setName('');
    } catch (failure) {
      setError(failure.message);
    }
  };
  const add = async (userId) => {
    setError(null);
    try {
      await backend.addMember(bandId, userId);
      refresh();
    } catch (failure) {
      setError(failure.message);
    }
  };
  const inBand = new Set(members.map((m) => m.user_id));
  return html`
    <aside class="panel" data-testid="band-manager">
      <div class="panel-head"><h2>Bands</h2><button class="ghost" onClick=${onClose}>×</button></div>
      <form class="inline" onSubmit=${create}>
        <input data-testid="band-name" placeholder="New band name" value=${name} required onChange=${(e) => setName(e.target.value)} />
        <button type="submit" data-testid="create-band">Create</button>
      </form>
      ${bandId ? html`
        <h3>Members</h3>
        <ul class="members">
          ${[...names.entries()].map(([id, display]) => html`
            <li key=${id}>
              ${display}
              ${inBand.has(id)
                ? html`<span class="role">${members.find((m) => m.user_id === id).role}</span>`
                : html`<button data-testid=${`add-${display.toLowerCase()}`} onClick=${() => add(id)}>Add</button>`}
            </li>`)}
        </ul>` : null}
      ${error ? html`<p class="error">${error}</p>` : null}
    </aside>`;
}
