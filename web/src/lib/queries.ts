// Shared server-state queries (the query cache is the only store).
import { useQuery } from '@tanstack/preact-query';
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
