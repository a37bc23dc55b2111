// The outbox: everything the engineer does goes through it, online or
// not. Each op carries its own Idempotency-Key, made when it is queued, so
// a replay after a lost answer applies nothing twice; ops are sent one at
// a time in the order they were made. A refusal that waiting cannot cure
// (the order was cancelled or reassigned meanwhile) marks the op as a
// conflict: it stays, with its note or photo, until the engineer looks at it.
import { addOp, allOps, deleteOp, getCached, putOp, putCached, type Op } from './db';

export type Outcome =
  | { kind: 'done'; data: unknown }
  /** Try again later: no network, a server error, or the key still in use. */
  | { kind: 'retry' }
  /** The session ended: sign in, then continue. */
  | { kind: 'auth' }
  | { kind: 'conflict'; status: number; code: string; message: string };

/** Sends one op to the server and classifies the answer. */
export type Sender = (op: Op) => Promise<Outcome>;

/**
 * Sends pending ops in order until one must wait. Conflicts do not stop the
 * queue (the next op may well apply). Returns what stopped it.
 */
export async function flushOps(
  ops: Op[],
  send: Sender,
  done: (op: Op, data: unknown) => Promise<void>,
  conflicted: (op: Op, o: Extract<Outcome, { kind: 'conflict' }>) => Promise<void>,
): Promise<'empty' | 'retry' | 'auth'> {
  for (const op of ops.filter((o) => o.state === 'pending').sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
    const r = await send(op);
    if (r.kind === 'retry' || r.kind === 'auth') return r.kind;
    if (r.kind === 'done') await done(op, r.data);
    else await conflicted(op, r);
  }
  return 'empty';
}

export function newKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

async function answer(resp: Response): Promise<Outcome> {
  const text = await resp.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (resp.ok) return { kind: 'done', data };
  if (resp.status === 401) return { kind: 'auth' };
  const e = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code = e?.code ?? 'http_' + resp.status;
  if (resp.status >= 500 || resp.status === 429 || resp.status === 408 || code === 'idempotency_key_in_use') return { kind: 'retry' };
  return { kind: 'conflict', status: resp.status, code, message: e?.message ?? resp.statusText };
}

/** The real sender: the API with the session cookie. */
export async function sendOp(op: Op, f: typeof fetch = fetch): Promise<Outcome> {
  const headers: Record<string, string> = { 'Idempotency-Key': op.key, 'X-PDM-Client': 'app', Accept: 'application/json' };
  let body: BodyInit;
  let path = `/api/v1/work-orders/${op.orderId}/`;
  if (op.kind === 'attachment') {
    const fd = new FormData();
    fd.append('file', op.file!, op.fileName ?? 'photo.jpg');
    fd.append('kind', op.attachKind ?? 'photo');
    if (op.signerName) fd.append('signer_name', op.signerName);
    body = fd;
    path += 'attachments';
  } else {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(op.body ?? {});
    path += op.kind === 'comment' ? 'comments' : op.action;
  }
  let resp: Response;
  try {
    resp = await f(path, { method: 'POST', headers, body, credentials: 'same-origin' });
  } catch {
    return { kind: 'retry' };
  }
  return answer(resp);
}

/** Why an order refused an action: looks the order up again. */
export async function conflictReason(orderId: string, f: typeof fetch = fetch): Promise<string> {
  try {
    const r = await f(`/api/v1/work-orders/${orderId}`, { credentials: 'same-origin' });
    if (r.status === 404) return 'reassigned';
    if (!r.ok) return 'refused';
    const o = (await r.json()) as { status?: string };
    if (o.status === 'cancelled') return 'cancelled';
    return 'refused';
  } catch {
    return 'refused';
  }
}

type Listener = () => void;

/** The app's outbox: queue, replay on reconnect, notify the screens. */
export class Outbox {
  private listeners = new Set<Listener>();
  private running: Promise<void> | undefined;
  private again = false;
  needsSignIn = false;
  lastSync: number | undefined;

  constructor(private send: Sender = (op) => sendOp(op)) {}

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private changed() {
    this.listeners.forEach((l) => l());
  }

  async enqueue(op: Omit<Op, 'key' | 'createdAt' | 'state'>): Promise<void> {
    await addOp({ ...op, key: newKey(), createdAt: new Date().toISOString(), state: 'pending' });
    this.changed();
    void this.flush();
  }

  async discard(seq: number): Promise<void> {
    await deleteOp(seq);
    this.changed();
  }

  /** Sends what waits; concurrent calls run once more after the current run. */
  flush(): Promise<void> {
    // The browser knows it is offline: wait for its online event.
    if (typeof navigator !== 'undefined' && !navigator.onLine) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const stop = await flushOps(
          await allOps(),
          this.send,
          async (op, data) => {
            await deleteOp(op.seq!);
            if (op.kind === 'action' && data && typeof data === 'object') {
              // The order as the server now has it, into the kept detail.
              const path = `/work-orders/${op.orderId}`;
              const kept = await getCached<Record<string, unknown>>(path);
              if (kept) await putCached(path, { ...kept.data, ...(data as Record<string, unknown>) });
            }
            this.changed();
          },
          async (op, c) => {
            const reason = c.status === 404 || c.status === 409 ? await conflictReason(op.orderId) : 'refused';
            await putOp({ ...op, state: 'conflict', conflict: reason, error: { status: c.status, code: c.code, message: c.message } });
            this.changed();
          },
        );
        this.needsSignIn = stop === 'auth';
        if (stop === 'empty') this.lastSync = Date.now();
        this.changed();
        if (stop !== 'empty') break;
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
