import { describe, expect, it } from 'vitest';
import { flushOps, type Outcome } from './outbox';
import type { Op } from './db';

const op = (seq: number, action: string): Op => ({
  seq, key: 'k' + seq, orderId: 'o1', kind: 'action', action, createdAt: '', state: 'pending',
});

describe('flushOps', () => {
  it('sends in order, keeps going past a conflict and stops at the first retry', async () => {
    const sent: string[] = [];
    const answers: Record<string, Outcome> = {
      accept: { kind: 'done', data: {} },
      depart: { kind: 'conflict', status: 409, code: 'illegal_transition', message: 'x' },
      arrive: { kind: 'retry' },
    };
    const done: string[] = [];
    const conflicts: string[] = [];
    const stop = await flushOps(
      [op(3, 'arrive'), op(1, 'accept'), op(2, 'depart'), op(4, 'start')],
      async (o) => {
        sent.push(o.action!);
        return answers[o.action!] ?? { kind: 'done', data: {} };
      },
      async (o) => void done.push(o.action!),
      async (o) => void conflicts.push(o.action!),
    );
    expect(sent).toEqual(['accept', 'depart', 'arrive']);
    expect(done).toEqual(['accept']);
    expect(conflicts).toEqual(['depart']);
    expect(stop).toBe('retry');
  });
  it('skips conflicts already shown and stops for sign-in', async () => {
    const c = { ...op(1, 'accept'), state: 'conflict' as const };
    const stop = await flushOps([c, op(2, 'start')], async () => ({ kind: 'auth' }), async () => {}, async () => {});
    expect(stop).toBe('auth');
  });
});
