// The gateways screen's logic: how a gateway is shown and the config draft.
import type { components } from '../../api/schema';

export type Gateway = components['schemas']['Gateway'];

/** What a gateway row shows first: an alert beats offline beats online. */
export type Health = 'alert' | 'offline' | 'online';

export function healthOf(g: Pick<Gateway, 'state' | 'alert_since'>): Health {
  if (g.alert_since) return 'alert';
  return g.state === 'online' ? 'online' : 'offline';
}

/** Gateways in the order a person should look at them: alerts, offline, online; then site and code. */
export function byAttention(a: Gateway, b: Gateway): number {
  const rank: Record<Health, number> = { alert: 0, offline: 1, online: 2 };
  const d = rank[healthOf(a)] - rank[healthOf(b)];
  if (d !== 0) return d;
  return (a.site_code ?? '').localeCompare(b.site_code ?? '') || (a.code ?? '').localeCompare(b.code ?? '');
}

/** How many gateways alert. */
export function alerting(list: Gateway[] | undefined): number {
  return (list ?? []).filter((g) => !!g.alert_since).length;
}

/** The starting text of the editor: the published config without what the platform fills in, or a template. */
export function draftOf(g: Pick<Gateway, 'config'>): string {
  const c = (g.config ?? null) as Record<string, unknown> | null;
  if (!c || typeof c !== 'object') {
    return JSON.stringify({ sources: { mqtt: [], modbus: [] }, rules: { deadband: [], alarms: [] } }, null, 2);
  }
  const { gateway: _g, site: _s, ...rest } = c;
  return JSON.stringify(rest, null, 2);
}

/** Parses the editor's text: the object to send, or where the JSON is broken. */
export function parseDraft(text: string): { value: Record<string, unknown> } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'not a JSON object' };
  return { value: v as Record<string, unknown> };
}
