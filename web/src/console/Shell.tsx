import { Link, Route, Switch, Redirect, useLocation } from 'wouter-preact';
import { useQueryClient } from '@tanstack/preact-query';
import { languages } from '../i18n';
import { useI18n, type ConsoleKey } from './i18n';
import { useClient } from '../lib/client';
import type { User } from '../api/types';
import { Review } from './Review';
import { Kpis } from './kpis/Kpis';
import { OrderDetailPage } from './orders/OrderDetail';
import { OrderList } from './orders/OrderList';
import { useLiveOrderLists } from './orders/liveList';
import { AssetList } from './assets/AssetList';
import { AssetPage } from './assets/AssetPage';
import { Rules } from './rules/Rules';
import { useLive, useLiveState } from '../lib/live';
import './screens.css';
import { Dispatch } from './dispatch/Dispatch';
import { Gateways, useGateways } from './gateways/Gateways';
import { Inventory } from './inventory/Inventory';
import { Schedules } from './inventory/Schedules';
import { alerting } from './gateways/gateways';
import { Inbox } from './customers/Inbox';
import { Reports } from './customers/Reports';
import { Notifications } from './customers/Notifications';
import { FleetModelPage } from './fleet/Fleet';

interface NavItem {
  href: string;
  label: ConsoleKey;
}

const nav: NavItem[] = [
  { href: '/review', label: 'nav.review' },
  { href: '/requests', label: 'nav.inbox' },
  { href: '/dispatch', label: 'nav.dispatch' },
  { href: '/kpis', label: 'nav.kpis' },
  { href: '/reports', label: 'nav.reports' },
  { href: '/orders', label: 'nav.orders' },
  { href: '/assets', label: 'nav.assets' },
  { href: '/rules', label: 'nav.rules' },
  { href: '/inventory', label: 'nav.inventory' },
  { href: '/schedules', label: 'nav.schedules' },
  { href: '/gateways', label: 'nav.gateways' },
  { href: '/notifications', label: 'nav.notifications' },
];

export function Shell({ user }: { user: User }) {
  const { t, lang, setLang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [loc] = useLocation();
  useLive();
  useLiveOrderLists();
  const live = useLiveState();
  // Gateways offline too long show on every screen.
  const gwAlerts = alerting(useGateways().data);

  const signOut = async () => {
    try {
      await client.delete('/session');
    } finally {
      qc.clear();
      window.location.assign('/');
    }
  };

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/review">
          <span class="logo" aria-hidden="true" />
          <span>pdm</span>
        </a>
        <nav aria-label="main">
          {nav.map((n) => (
            <Link href={n.href} class={loc.startsWith(n.href) ? 'active' : ''} aria-current={loc.startsWith(n.href) ? 'page' : undefined}>
              {t(n.label)}
              {n.href === '/gateways' && gwAlerts > 0 && (
                <span class="badge danger" data-testid="gw-alert-badge" title={t('gw.alerts', { n: gwAlerts })}>
                  {gwAlerts}
                </span>
              )}
            </Link>
          ))}
        </nav>
        <div class="spacer" />
        <span class={`live-dot ${live}`} role="status" title={t(`live.${live}`)} aria-label={t(`live.${live}`)} />
        <select aria-label={t('nav.language')} value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as typeof lang)}>
          {languages.map((l) => (
            <option value={l.code}>{l.label}</option>
          ))}
        </select>
        <span class="user" title={user.role}>
          {user.name} <span class="badge">{user.role}</span>
        </span>
        <button type="button" class="ghost" onClick={signOut}>
          {t('nav.signout')}
        </button>
      </header>
      <main id="main">
        <Switch>
          <Route path="/">
            <Redirect to="/review" />
          </Route>
          <Route path="/review">
            <Review user={user} />
          </Route>
          <Route path="/dispatch">
            <Dispatch user={user} />
          </Route>
          <Route path="/kpis">
            <Kpis />
          </Route>
          <Route path="/requests">
            <Inbox canMerge={user.role === 'admin' || user.role === 'planner'} />
          </Route>
          <Route path="/reports">
            <Reports />
          </Route>
          <Route path="/notifications">
            <Notifications admin={user.role === 'admin'} />
          </Route>
          <Route path="/rules">
            <Rules />
          </Route>
          <Route path="/inventory">
            <Inventory user={user} />
          </Route>
          <Route path="/schedules">
            <Schedules user={user} />
          </Route>
          <Route path="/gateways">
            <Gateways user={user} />
          </Route>
          <Route path="/assets">
            <AssetList />
          </Route>
          <Route path="/assets/:id">{(p: { id: string }) => <AssetPage id={p.id} />}</Route>
          <Route path="/asset-types/:type">{(p: { type: string }) => <FleetModelPage type={decodeURIComponent(p.type)} user={user} />}</Route>
          <Route path="/orders">
            <OrderList />
          </Route>
          <Route path="/orders/:ref">{(p: { ref: string }) => <OrderDetailPage orderRef={decodeURIComponent(p.ref)} user={user} />}</Route>
          <Route>
            <section class="page">
              <h1>{t('notfound.title')}</h1>
              <Link href="/review">{t('notfound.back')}</Link>
            </section>
          </Route>
        </Switch>
      </main>
    </div>
  );
}
