import { describe, expect, it } from 'vitest';
import { actionsFrom, after, effectiveStatus } from './lifecycle';

describe('life cycle', () => {
  it('goes accepted → en_route → on_site → in_progress and keeps start from accepted', () => {
    expect(after('accepted', 'depart')).toBe('en_route');
    expect(after('en_route', 'arrive')).toBe('on_site');
    expect(after('on_site', 'start')).toBe('in_progress');
    expect(after('accepted', 'start')).toBe('in_progress');
    expect(after('assigned', 'start')).toBeUndefined();
  });
  it('folds queued actions over the server status', () => {
    expect(effectiveStatus('assigned', ['accept', 'depart', 'arrive', 'start', 'hold', 'resume', 'complete'])).toBe('completed');
    expect(effectiveStatus('cancelled', ['accept'])).toBe('cancelled');
  });
  it('offers every action of the drawing', () => {
    const seen = new Set<string>();
    for (const s of ['assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold']) actionsFrom(s).forEach((a) => seen.add(a));
    expect([...seen].sort()).toEqual(['accept', 'arrive', 'complete', 'decline', 'depart', 'hold', 'resume', 'start']);
  });
});
