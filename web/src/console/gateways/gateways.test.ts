import { describe, expect, it } from 'vitest';
import { alerting, byAttention, draftOf, healthOf, parseDraft, type Gateway } from './gateways';

const g = (code: string, f: Partial<Gateway>): Gateway => ({ id: code, code, site_code: 'S1', state: 'online', ...f }) as Gateway;

describe('gateways', () => {
  it('an alert beats offline beats online', () => {
    expect(healthOf(g('a', { state: 'offline', alert_since: '2026-03-01T00:00:00Z' }))).toBe('alert');
    expect(healthOf(g('b', { state: 'offline' }))).toBe('offline');
    expect(healthOf(g('c', {}))).toBe('online');
  });
  it('lists alerts first, then offline, then by site and code', () => {
    const list = [g('z', {}), g('y', { state: 'offline' }), g('x', { state: 'offline', alert_since: '2026-03-01T00:00:00Z' }), g('a', { site_code: 'S0' })];
    expect(list.sort(byAttention).map((x) => x.code)).toEqual(['x', 'y', 'a', 'z']);
    expect(alerting(list)).toBe(1);
    expect(alerting(undefined)).toBe(0);
  });
  it('starts the editor from the published config without gateway and site, or a template', () => {
    expect(JSON.parse(draftOf(g('a', { config: { gateway: 'a', site: 'S1', rules: { alarms: [] } } as never })))).toEqual({ rules: { alarms: [] } });
    expect(JSON.parse(draftOf(g('a', { config: null as never })))).toHaveProperty('sources');
  });
  it('says where a draft is not a JSON object', () => {
    expect(parseDraft('{"a":1}')).toEqual({ value: { a: 1 } });
    expect('error' in parseDraft('{"a":')).toBe(true);
    expect(parseDraft('[1]')).toEqual({ error: 'not a JSON object' });
  });
});
