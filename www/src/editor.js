// The item editor: who else is editing it, other people's changes merged into the form without
// overwriting what the user is typing, and conflicts settled field by field.
import { useEffect, useRef, useState } from 'react';
import { html } from './html.js';
import { useSyncClient, useRow, useSyncStatus, useEditors, useConflicts } from 'rockon-sync/react';
import { formOf, valuesOf } from './tables.js';


/** `duration_seconds` → `durationSeconds`: conflict records name wire columns. */
const camel = (column) => column.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

export function Editor({ section, bandId, id, names, onClose }) {
  const client = useSyncClient();
  const creating = id === 'new';
  const { row, loading } = useRow(section.table, creating ? null : id);
  const status = useSyncStatus(section.table, creating ? '' : id);
  const editors = useEditors(section.table, creating ? null : id);
  const [form, setForm] = useState(null);
  // The row the form started from: what "changed under you" is measured against.
  const base = useRef(null);
  const [offered, setOffered] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!creating) client.markRead(section.table, id);
  }, [client, section.table, id, creating, row?.version]);
  useEffect(() => {
    if (!creating && !row) return;
    const next = formOf(section, row);
    if (form === null || base.current === null) {
      base.current = next;
      setForm(next);
      return;
    }
    // Another member's change: fields the user has not touched take it; a field the user is
    // typing in keeps the user's text and offers theirs.
    const merged = { ...form };
    const offers = { ...offered };
    for (const field of section.fields) {
      const name = field.name;
      if (next[name] === base.current[name]) continue;
      if (form[name] === base.current[name]) merged[name] = next[name];
      else if (form[name] !== next[name]) offers[name] = next[name];
    }
    base.current = next;
    setForm(merged);
    setOffered(offers);
  }, [creating, row?.version, section]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!creating && !loading && !row) return null;
  if (form === null) return null;

  const edit = (name, value) => {
    setForm({ ...form, [name]: value });
    if (offered[name] !== undefined) setOffered(({ [name]: _, ...rest }) => rest);
  };
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const values = valuesOf(section, form);
      if (creating) await client.create(section.table, { ...values, bandId });
      else await client.update(section.table, id, values);
      onClose();
    } catch (failure) {
      setError(failure.message);
    }
  };
  const remove = async () => {
    await client.remove(section.table, id);
    onClose();
  };
  return html`
    <form class="editor" data-testid="editor" onSubmit=${save}>
      <h3>${creating ? `New ${section.noun}` : section.label(row)}</h3>
      ${editors.length ? html`
        <p class="editing" data-testid="editors">
          ${editors.map((e) => names.get(e.userId) ?? e.name ?? 'Someone').join(', ')} ${editors.length > 1 ? 'are' : 'is'} editing this
        </p>` : null}
      ${status === 'conflict' ? html`<${ConflictPanel} section=${section} id=${id} />` : null}
      ${section.fields.map((field) => html`
        <label key=${field.name} class=${offered[field.name] !== undefined ? 'changed-remotely' : ''}
               data-testid=${`field-${field.name}`}>
          <span>${field.label}</span>
          ${field.multiline
            ? html`<textarea name=${field.name} value=${form[field.name]} onChange=${(e) => edit(field.name, e.target.value)} />`
            : html`<input name=${field.name} type=${field.type ?? 'text'} required=${field.required} value=${form[field.name]}
                          onChange=${(e) => edit(field.name, e.target.value)} />`}
          ${offered[field.name] !== undefined ? html`
            <span class="offer" data-testid="offer">
              Changed by someone else to “${offered[field.name]}”
              <button type="button" class="ghost" data-testid="take-theirs" onClick=${() => edit(field.name, offered[field.name])}>Use theirs</button>
            </span>` : null}
        </label>`)}
      ${error ? html`<p class="error">${error}</p>` : null}
      <div class="actions">
        <button type="submit" data-testid="save">Save</button>
        ${creating ? null : html`<button type="button" class="danger" data-testid="delete" onClick=${remove}>Delete</button>`}
        <button type="button" class="ghost" onClick=${onClose}>Close</button>
      </div>
    </form>`;
}

/** Both values of each field both sides changed: keep all of one side, or pick per field. */
function ConflictPanel({ section, id }) {
  const { conflicts, resolve } = useConflicts();
  const record = conflicts.find((c) => c.table === section.table && c.rowId === id);
  const [picked, setPicked] = useState({});
  const [failure, setFailure] = useState(null);
  if (!record) return null;
  const settle = (choice) => resolve(section.table, id, choice).catch((e) => setFailure(e.message));
  const labelOf = (column) => section.fields.find((f) => f.name === camel(column))?.label ?? column;
  const shown = (value) => (value == null || value === '' ? '(empty)' : String(value));
  const apply = () => {
    const values = {};
    for (const f of record.fields) values[camel(f.field)] = picked[f.field] === 'mine' ? f.local : f.remote;
    settle(values);
  };
  return html`
    <div class="conflict" data-testid="conflict">
      <strong>${record.deletedRemotely ? 'Someone deleted this while you were editing it.' : 'Someone else changed this too.'}</strong>
      ${record.fields.map((f) => html`
        <div key=${f.field} class="conflict-field" data-testid="conflict-field" data-field=${camel(f.field)}>
          <span class="conflict-name">${labelOf(f.field)}</span>
          ${['mine', 'theirs'].map((side) => html`
            <label key=${side} class="conflict-side">
              <input type="radio" name=${`pick-${f.field}`} data-testid=${`pick-${side}`}
                     checked=${(picked[f.field] ?? 'theirs') === side}
                     onChange=${() => setPicked({ ...picked, [f.field]: side })} />
              ${side === 'mine' ? 'Yours' : 'Theirs'}: <span data-testid=${`value-${side}`}>${shown(side === 'mine' ? f.local : f.remote)}</span>
            </label>`)}
        </div>`)}
      <div class="actions">
        ${record.fields.length ? html`<button type="button" data-testid="apply-picks" onClick=${apply}>Apply</button>` : null}
        <button type="button" class="ghost" data-testid="keep-mine" onClick=${() => settle('mine')}>Keep all mine</button>
        <button type="button" class="ghost" data-testid="keep-theirs" onClick=${() => settle('theirs')}>Keep all theirs</button>
      </div>
      ${failure ? html`<p class="error">${failure}</p>` : null}
    </div>`;
}
