// The app's own storage in IndexedDB: the last answers of the API (so jobs
// open offline), the outbox of actions, notes and photos done offline,
// and the positions waiting to be sent.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export interface Cached<T = unknown> {
  path: string;
  at: number;
  data: T;
}

/** One thing the engineer did, waiting for the server. */
export interface Op {
  seq?: number;
  /** The Idempotency-Key: a replay after a lost answer applies nothing twice. */
  key: string;
  orderId: string;
  /** The order's number, for the screen. */
  number?: string;
  kind: 'action' | 'comment' | 'attachment';
  action?: string;
  body?: Record<string, unknown>;
  file?: Blob;
  fileName?: string;
  attachKind?: 'photo' | 'signature';
  signerName?: string;
  createdAt: string;
  state: 'pending' | 'conflict';
  /** Why the server refused it (conflict): cancelled, reassigned, illegal ... */
  conflict?: string;
  error?: { status: number; code: string; message: string };
}

export interface Point {
  at: string;
  lat: number;
  lon: number;
  accuracy_m?: number;
}

interface AppDB extends DBSchema {
  cache: { key: string; value: Cached };
  outbox: { key: number; value: Op; indexes: { order: string } };
  points: { key: string; value: Point };
}

let dbp: Promise<IDBPDatabase<AppDB>> | undefined;

export function db(): Promise<IDBPDatabase<AppDB>> {
  dbp ??= openDB<AppDB>('pdm-app', 1, {
    upgrade(d) {
      d.createObjectStore('cache', { keyPath: 'path' });
      const o = d.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      o.createIndex('order', 'orderId');
      d.createObjectStore('points', { keyPath: 'at' });
    },
  });
  return dbp;
}

export async function putCached(path: string, data: unknown): Promise<void> {
  await (await db()).put('cache', { path, at: Date.now(), data });
}

export async function getCached<T>(path: string): Promise<Cached<T> | undefined> {
  return (await (await db()).get('cache', path)) as Cached<T> | undefined;
}

export async function allOps(): Promise<Op[]> {
  return (await db()).getAll('outbox');
}

export async function addOp(op: Op): Promise<number> {
  return (await db()).add('outbox', op);
}

export async function putOp(op: Op): Promise<void> {
  await (await db()).put('outbox', op);
}

export async function deleteOp(seq: number): Promise<void> {
  await (await db()).delete('outbox', seq);
}

export async function addPoint(p: Point): Promise<void> {
  await (await db()).put('points', p);
}

export async function allPoints(): Promise<Point[]> {
  return (await db()).getAll('points');
}

export async function deletePoints(ats: string[]): Promise<void> {
  const tx = (await db()).transaction('points', 'readwrite');
  await Promise.all([...ats.map((a) => tx.store.delete(a)), tx.done]);
}
