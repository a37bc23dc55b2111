// Reads that survive the network going away: every GET the app makes is
// kept in IndexedDB, and answered from there when the server cannot be
// reached. The query cache stays the only store on screen.
import { useQuery } from '@tanstack/preact-query';
import { ApiError, type Client } from '../lib/api';
import { useClient } from '../lib/client';
import { getCached, putCached } from './db';

export interface Kept<T> {
  data: T;
  /** When the server last gave this answer (ms). */
  at: number;
  /** True when the answer comes from the device, not the server. */
  offline: boolean;
}

const timeoutMs = 8000;

export async function cachedGet<T>(client: Client, path: string): Promise<Kept<T>> {
  if (navigator.onLine) {
    try {
      const data = await Promise.race([
        client.get<T>(path),
        new Promise<never>((_, rej) => setTimeout(() => rej(new ApiError(0, 'network', 'timeout')), timeoutMs)),
      ]);
      await putCached(path, data);
      return { data, at: Date.now(), offline: false };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 0) throw e;
    }
  }
  const kept = await getCached<T>(path);
  if (!kept) throw new ApiError(0, 'offline', 'not available offline');
  return { data: kept.data, at: kept.at, offline: true };
}

/** A GET through the device's copy; runs offline too. */
export function useKept<T>(path: string | undefined, staleTime = 10_000) {
  const client = useClient();
  return useQuery<Kept<T>, ApiError>({
    queryKey: ['kept', path],
    queryFn: () => cachedGet<T>(client, path!),
    enabled: !!path,
    networkMode: 'always',
    retry: false,
    staleTime,
  });
}
