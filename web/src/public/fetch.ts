// Public endpoints need no session; errors still arrive as ApiError.
import { ApiError, toApiError } from '../lib/api';

export async function call<T>(method: string, path: string, body?: BodyInit, json = false): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'X-PDM-Client': 'web' };
  if (json) headers['Content-Type'] = 'application/json';
  let resp: Response;
  try {
    resp = await fetch('/api/v1' + path, { method, headers, body, credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (resp.status === 204) return undefined as T;
  let data: unknown;
  try {
    data = await resp.json();
  } catch {
    data = undefined;
  }
  if (!resp.ok) throw toApiError(resp.status, data);
  return data as T;
}
