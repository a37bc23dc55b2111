// The order life cycle as the engineer sees it (docs/contract.md), so the
// app can show what an action queued offline will lead to.
export type Status = string;

const next: Record<string, [Status[], Status]> = {
  accept: [['assigned'], 'accepted'],
  decline: [['assigned'], 'approved'],
  depart: [['accepted'], 'en_route'],
  arrive: [['en_route'], 'on_site'],
  start: [['accepted', 'en_route', 'on_site'], 'in_progress'],
  hold: [['in_progress'], 'on_hold'],
  resume: [['on_hold'], 'in_progress'],
  complete: [['in_progress'], 'completed'],
};

/** The status action leads to from from, or undefined when it is not allowed. */
export function after(from: Status, action: string): Status | undefined {
  const t = next[action];
  return t && t[0].includes(from) ? t[1] : undefined;
}

/** The actions an engineer may take from status s, the usual one first. */
export function actionsFrom(s: Status): string[] {
  switch (s) {
    case 'assigned':
      return ['accept', 'decline'];
    case 'accepted':
      return ['depart', 'start'];
    case 'en_route':
      return ['arrive', 'start'];
    case 'on_site':
      return ['start'];
    case 'in_progress':
      return ['complete', 'hold'];
    case 'on_hold':
      return ['resume'];
  }
  return [];
}

/** The status after the queued actions, in order (those that do not apply are skipped). */
export function effectiveStatus(server: Status, queued: string[]): Status {
  let s = server;
  for (const a of queued) s = after(s, a) ?? s;
  return s;
}

/** Whether a job counts as open for the engineer. */
export function isOpen(s: Status): boolean {
  return ['assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold'].includes(s);
}
