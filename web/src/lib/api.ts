// The one way the front end talks to pdm: /api/v1 with the session cookie.
// Errors come back as ApiError with the contract's code, message and the
// invalid fields, so screens can show each next to its field.

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];

  constructor(status: number, code: string, message: string, fields: FieldError[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  /** The message for one field, if the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field || f.field.startsWith(field + '.'))?.message;
  }
}

/** Called on any 401 so the app can ask for sign-in again without losing what is on screen. */
type UnauthorizedListener = () => void;

export interface ClientOptions {
  base?: string;
  fetch?: typeof fetch;
}

/** Called with the live stream position an answer carries (see live.ts). */
type PositionListener = (position: number) => void;

export class Client {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private listeners = new Set<UnauthorizedListener>();
  private positionListeners = new Set<PositionListener>();
  private lowest: number | undefined;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.base ?? '/api/v1';
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  onUnauthorized(l: UnauthorizedListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The smallest X-Live-Position of the answers read since the last call (undefined: none). */
  takeLowestPosition(): number | undefined {
    const p = this.lowest;
    this.lowest = undefined;
    return p;
  }

  /** Calls l with the X-Live-Position of every answer that has one. */
  onLivePosition(l: PositionListener): () => void {
    this.positionListeners.add(l);
    return () => this.positionListeners.delete(l);
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>('GET', path + queryString(query));
  }

  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body ?? {}, headers);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const h: Record<string, string> = { Accept: 'application/json', ...headers };
    if (method !== 'GET' && method !== 'HEAD') h['X-PDM-Client'] = 'web';
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let resp: Response;
    try {
      resp = await this.fetchFn(this.base + path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
    }
    if (resp.status === 401 && path !== '/session') this.listeners.forEach((l) => l());
    const pos = Number(resp.headers?.get('X-Live-Position') ?? '');
    if (resp.headers?.has('X-Live-Position') && Number.isSafeInteger(pos) && pos >= 0) {
      this.lowest = this.lowest === undefined ? pos : Math.min(this.lowest, pos);
      this.positionListeners.forEach((l) => l(pos));
    }
    if (resp.status === 204) return undefined as T;
    const text = await resp.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        if (!resp.ok) throw new ApiError(resp.status, 'http_' + resp.status, resp.statusText || 'error');
        throw new ApiError(resp.status, 'bad_response', 'the server answered something that is not JSON');
      }
    }
    if (!resp.ok) throw toApiError(resp.status, data);
    return data as T;
  }
}

export function toApiError(status: number, data: unknown): ApiError {
  const e = (data as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | undefined)?.error;
  const fields: FieldError[] = Array.isArray(e?.fields)
    ? (e!.fields as unknown[])
        .filter((f): f is FieldError => typeof f === 'object' && f !== null && 'field' in f && 'message' in f)
        .map((f) => ({ field: String(f.field), message: String(f.message) }))
    : [];
  return new ApiError(
    status,
    typeof e?.code === 'string' ? e.code : 'http_' + status,
    typeof e?.message === 'string' ? e.message : 'request failed',
    fields,
  );
}

export function queryString(q?: Record<string, string | number | undefined>): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? '?' + s : '';
}
