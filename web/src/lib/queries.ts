// Shared server-state queries (the query cache is the only store).
import { useQuery, type QueryKey } from '@tanstack/preact-query';
import { useClient } from './client';
import type { Client } from './api';
import type { Asset, List } from '../api/types';

/** Every page of a list endpoint, up to max items. */
export async function fetchAll<T>(client: Client, path: string, query: Record<string, string | number | undefined> = {}, max = 10_000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.get<List<T>>(path, { ...query, limit: 500, cursor });
    out.push(...(page.items ?? []));
    cursor = page.next_cursor || undefined;
  } while (cursor && out.length < max);
  return out;
}

/** All assets, by id. */
export function useAssets() {
  const client = useClient();
  return useQuery({
    queryKey: ['assets', 'all'],
    queryFn: async () => new Map((await fetchAll<Asset>(client, '/assets')).map((a) => [a.id ?? '', a])),
    staleTime: 60_000,
  });
}

/** How many items the first, quick page of a progressive list holds. */
export const headSize = 100;

/**
 * A long list that shows its first page at once: two queries start
 * together, the first page alone (key + 'head') and every page up to max
 * (key); the list is the whole one when it has arrived, else the first
 * page. With 1,000,000 orders in the database the screen shows rows after
 * one small request instead of after twenty (bench/console.md).
 */
export function useProgressiveList<T>(
  key: QueryKey,
  path: string,
  query: Record<string, string | number | undefined>,
  max: number,
  opts: { refetchInterval?: number | false; staleTime?: number } = {},
) {
  const client = useClient();
  const head = useQuery({
    queryKey: [...key, 'head'],
    queryFn: async () => (await client.get<List<T>>(path, { ...query, limit: headSize })).items ?? [],
    ...opts,
  });
  const all = useQuery({ queryKey: key, queryFn: () => fetchAll<T>(client, path, query, max), ...opts });
  return {
    data: all.data ?? head.data,
    /** Every page (up to max) has arrived. */
    complete: all.data !== undefined,
    isPending: all.isPending && head.isPending,
    error: all.data === undefined ? (all.error ?? head.error) : null,
  };
}
