// How the demo shows and edits each synced table.
export const SECTIONS = [
  {
    table: 'songs', title: 'Songs', noun: 'song', label: (r) => r.title,
    detail: (r) => [r.artist, r.key && `in ${r.key}`, r.tempo && `${r.tempo} bpm`].filter(Boolean).join(' · '),
    fields: [
      { name: 'title', label: 'Title', required: true },
      { name: 'artist', label: 'Artist' },
      { name: 'key', label: 'Key' },
      { name: 'tempo', label: 'Tempo (bpm)', type: 'number' },
      { name: 'notes', label: 'Notes', multiline: true },
    ],
    orderBy: 'title',
  },
  {
    table: 'setlists', title: 'Setlists', noun: 'setlist', label: (r) => r.name,
    detail: (r) => `${(r.items ?? []).length} entries`,
    fields: [{ name: 'name', label: 'Name', required: true }],
    orderBy: 'name',
  },
  {
    table: 'shows', title: 'Shows', noun: 'show', label: (r) => r.name,
    detail: (r) => [r.venue, r.startsAt && new Date(r.startsAt).toLocaleString()].filter(Boolean).join(' · '),
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'venue', label: 'Venue' },
      { name: 'startsAt', label: 'Starts', type: 'datetime-local' },
      { name: 'notes', label: 'Notes', multiline: true },
    ],
    orderBy: 'startsAt',
  },
  {
    table: 'practice_sessions', title: 'Practices', noun: 'practice', label: (r) => r.location || 'Practice',
    detail: (r) => [r.scheduledAt && new Date(r.scheduledAt).toLocaleString(), r.durationMinutes && `${r.durationMinutes} min`]
      .filter(Boolean).join(' · '),
    fields: [
      { name: 'scheduledAt', label: 'When', type: 'datetime-local', required: true },
      { name: 'location', label: 'Where' },
      { name: 'durationMinutes', label: 'Minutes', type: 'number' },
      { name: 'notes', label: 'Notes', multiline: true },
    ],
    orderBy: 'scheduledAt',
  },
];

/** A form's strings as the values a table takes. */
export function valuesOf(section, form) {
  const values = {};
  for (const field of section.fields) {
    const raw = form[field.name];
    if (raw === undefined) continue;
    if (raw === '') values[field.name] = field.required ? raw : null;
    else if (field.type === 'number') values[field.name] = Number(raw);
    else if (field.type === 'datetime-local') values[field.name] = new Date(raw).toISOString();
    else values[field.name] = raw;
  }
  return values;
}

/** A row's values as form strings. */
export function formOf(section, row) {
  const form = {};
  for (const field of section.fields) {
    const value = row?.[field.name];
    if (value == null) form[field.name] = '';
    else if (field.type === 'datetime-local') form[field.name] = toLocalInput(value);
    else form[field.name] = String(value);
  }
  return form;
}

function toLocalInput(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
