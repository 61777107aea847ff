// rockon-sync/react-query: keeps an app's React Query cache fresh from rockon-sync. The app keeps
// its queries (useQuery with its own fetchers); every change rockon-sync applies invalidates the
// queries keyed by the changed table and band, which then refetch.

/**
 * Invalidates `queryClient`'s queries on rockon-sync's change events.
 *
 * - `queryKey(event)`: the key prefix to invalidate for a change (default `[event.alias,
 *   event.bandId]`, e.g. `['songs', bandId]`); return `null` to skip a change.
 * - `sources`: only changes from these sources (`'local'`, `'server'`, `'remote'`, `'pull'`,
 *   `'purge'`); all by default.
 *
 * Returns a function that stops it.
 */
export function syncQueryClient(client, queryClient, options = {}) {
  const keyOf = options.queryKey ?? ((event) => [event.alias, event.bandId]);
  const sources = options.sources ?? null;
  return client.on('change', (event) => {
    if (sources && !sources.includes(event.source)) return;
    const queryKey = keyOf(event);
    if (queryKey) queryClient.invalidateQueries({ queryKey });
  });
}
