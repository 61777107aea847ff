// Types of rockon-sync/react-query.
import type { SyncClient, ChangeEvent } from './rockon_sync.js';

/** What `syncQueryClient` needs of a TanStack `QueryClient`. */
export interface InvalidatingQueryClient {
  invalidateQueries(filters: { queryKey: readonly unknown[] }): unknown;
}

export interface SyncQueryClientOptions {
  /** The key prefix to invalidate for a change (default `[event.alias, event.bandId]`); `null` skips it. */
  queryKey?: (event: ChangeEvent) => readonly unknown[] | null;
  /** Only changes from these sources; all by default. */
  sources?: ChangeEvent['source'][];
}

/**
 * Invalidates the app's React Query queries whenever rockon-sync applies a change to their table
 * and band, so they refetch. Returns a function that stops it.
 */
export function syncQueryClient(
  client: SyncClient,
  queryClient: InvalidatingQueryClient,
  options?: SyncQueryClientOptions,
): () => void;
