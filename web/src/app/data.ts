// Reads that survive the network going away: every GET the app makes is
// kept in IndexedDB, and answered from there when the server cannot be
// reached. The query cache stays the only store on screen.
import { useQuery, useQueryClient } from '@tanstack/preact-query';
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

/** How long a kept answer may wait for the network before it is shown (then refreshed when the network answers). */
const keptWaitMs = 300;

async function fromNetwork<T>(client: Client, path: string): Promise<Kept<T>> {
  const data = await Promise.race([
    client.get<T>(path),
    new Promise<never>((_, rej) => setTimeout(() => rej(new ApiError(0, 'network', 'timeout')), timeoutMs)),
  ]);
  await putCached(path, data);
  return { data, at: Date.now(), offline: false };
}

/**
 * The server's answer when it comes quickly; else the device's copy at
 * once, with fresh(…) called when the server's answer arrives; the copy
 * alone when the server cannot be reached.
 */
export async function cachedGet<T>(client: Client, path: string, fresh?: (k: Kept<T>) => void): Promise<Kept<T>> {
  const kept = getCached<T>(path);
  if (navigator.onLine) {
    const net = fromNetwork<T>(client, path);
    const quick = await Promise.race([net.then((k) => k, (e: unknown) => e), new Promise((r) => setTimeout(() => r(undefined), keptWaitMs))]);
    if (quick !== undefined) {
      if (!(quick instanceof Error)) return quick as Kept<T>;
      if (!(quick instanceof ApiError) || quick.status !== 0) throw quick;
    } else {
      const k = await kept;
      if (k) {
        net.then((n) => fresh?.(n), () => {});
        return { data: k.data, at: k.at, offline: false };
      }
      try {
        return await net;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 0) throw e;
      }
    }
  }
  const k = await kept;
  if (!k) throw new ApiError(0, 'offline', 'not available offline');
  return { data: k.data, at: k.at, offline: true };
}

/** A GET through the device's copy; runs offline too. */
export function useKept<T>(path: string | undefined, staleTime = 10_000) {
  const client = useClient();
  const qc = useQueryClient();
  return useQuery<Kept<T>, ApiError>({
    queryKey: ['kept', path],
    queryFn: () => cachedGet<T>(client, path!, (k) => qc.setQueryData(['kept', path], k)),
    enabled: !!path,
    networkMode: 'always',
    retry: false,
    staleTime,
  });
}
