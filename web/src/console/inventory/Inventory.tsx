// Inventory: stock per location with its reorder state, purchase requests
// (approve = order, receive, cancel), the ledger, and "run reorder now".
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { formatDateTime } from '../../lib/format';
import { fetchAll } from '../../lib/queries';
import type { List, User } from '../../api/types';
import { byReorder, reorderState, type Movement, type PurchaseRequest, type Stock } from './plan';

function ErrorLine({ err }: { err?: ApiError }) {
  if (!err) return null;
  return (
    <p class="field-error" role="alert">
      {err.fields.length > 0 ? err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') : err.message}
    </p>
  );
}

export function Inventory({ user }: { user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const planner = user.role === 'admin' || user.role === 'planner';
  const [below, setBelow] = useState(false);
  const [prStatus, setPrStatus] = useState('open');
  const [err, setErr] = useState<ApiError>();
  const [flash, setFlash] = useState('');
  const stock = useQuery({
    queryKey: ['stock', below],
    queryFn: () => fetchAll<Stock>(client, '/stock', below ? { below_reorder: 'true' } : {}),
  });
  const prs = useQuery({
    queryKey: ['purchase-requests', prStatus],
    queryFn: () => fetchAll<PurchaseRequest>(client, '/purchase-requests', prStatus ? { status: prStatus } : {}, 500),
  });
  const ledger = useQuery({
    queryKey: ['stock', 'movements'],
    queryFn: async () => (await client.get<List<Movement>>('/stock/movements', { limit: 100 })).items ?? [],
  });
  const act = async (f: () => Promise<unknown>, done?: string) => {
    setErr(undefined);
    setFlash('');
    try {
      await f();
      if (done) setFlash(done);
      void qc.invalidateQueries({ predicate: (q) => ['stock', 'purchase-requests', 'inventory'].includes(String(q.queryKey[0])) });
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  const runReorder = () =>
    act(async () => {
      const r = await client.post<{ at?: string }>('/stock/reorder/run', {});
      setFlash(t('inv.reorderRan', { t: formatDateTime(r.at, lang) }));
    });
  const [recv, setRecv] = useState<Record<string, string>>({});
  const receive = (pr: PurchaseRequest) => {
    const qty = parseInt(recv[pr.id ?? ''] ?? String(pr.qty ?? ''), 10);
    void act(() => client.post(`/purchase-requests/${pr.id}/receive`, Number.isFinite(qty) ? { qty } : {}));
  };
  const rows = [...(stock.data ?? [])].sort(byReorder);
  const sku = new Map((stock.data ?? []).map((s) => [s.part_id, s.sku]));
  const loc = new Map((stock.data ?? []).map((s) => [s.location_id, s.location_code]));
  return (
    <section class="page" aria-labelledby="inv-title">
      <h1 id="inv-title">{t('inv.title')}</h1>
      <ErrorLine err={err} />
      {flash && <p role="status">{flash}</p>}
      <section aria-labelledby="inv-stock">
        <div class="filters">
          <h2 id="inv-stock">{t('inv.stock')}</h2>
          <label>
            <input type="checkbox" checked={below} onChange={(e) => setBelow((e.target as HTMLInputElement).checked)} /> {t('inv.belowOnly')}
          </label>
          {planner && (
            <button type="button" onClick={runReorder} data-testid="run-reorder">
              {t('inv.runReorder')}
            </button>
          )}
        </div>
        {rows.length === 0 && !stock.isPending && <p class="muted">{t('inv.empty')}</p>}
        {rows.length > 0 && (
          <table class="table" data-testid="stock">
            <thead>
              <tr>
                <th scope="col">{t('inv.col.location')}</th>
                <th scope="col">{t('inv.col.sku')}</th>
                <th scope="col">{t('inv.col.part')}</th>
                <th scope="col">{t('inv.col.onHand')}</th>
                <th scope="col">{t('inv.col.reserved')}</th>
                <th scope="col">{t('inv.col.available')}</th>
                <th scope="col">{t('inv.col.onOrder')}</th>
                <th scope="col">{t('inv.col.reorder')}</th>
                <th scope="col">{t('inv.col.state')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => {
                const st = reorderState(s);
                return (
                  <tr key={`${s.location_id}/${s.part_id}`} data-sku={s.sku} data-state={st}>
                    <td>{s.location_code}</td>
                    <td>{s.sku}</td>
                    <td>{s.part_name}</td>
                    <td>{s.on_hand}</td>
                    <td>{s.reserved}</td>
                    <td>{s.available}</td>
                    <td>{s.on_order}</td>
                    <td>
                      {s.reorder_point} / {s.reorder_qty}
                    </td>
                    <td class={st === 'reorder' || st === 'low' ? 'danger' : ''}>{t(`inv.state.${st}`, { n: s.suggested_order_qty ?? 0 })}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="inv-prs">
        <div class="filters">
          <h2 id="inv-prs">{t('inv.prs')}</h2>
          <label>
            {t('inv.pr.status')}
            <select data-testid="pr-status" value={prStatus} onChange={(e) => setPrStatus((e.target as HTMLSelectElement).value)}>
              <option value="">{t('inv.pr.all')}</option>
              {(['open', 'ordered', 'received', 'cancelled'] as const).map((s) => (
                <option value={s}>{t(`inv.pr.${s}`)}</option>
              ))}
            </select>
          </label>
        </div>
        {(prs.data ?? []).length === 0 && !prs.isPending && <p class="muted">{t('inv.pr.none')}</p>}
        {(prs.data ?? []).length > 0 && (
          <table class="table" data-testid="purchase-requests">
            <thead>
              <tr>
                <th scope="col">{t('inv.col.sku')}</th>
                <th scope="col">{t('inv.col.location')}</th>
                <th scope="col">{t('inv.col.qty')}</th>
                <th scope="col">{t('inv.col.reason')}</th>
                <th scope="col">{t('inv.pr.status')}</th>
                <th scope="col">{t('inv.col.created')}</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {(prs.data ?? []).map((pr) => (
                <tr key={pr.id} data-pr={pr.sku} data-status={pr.status}>
                  <td>{pr.sku}</td>
                  <td>{loc.get(pr.location_id) ?? ''}</td>
                  <td>
                    {pr.qty}
                    {pr.received_qty != null && ` → ${pr.received_qty}`}
                  </td>
                  <td>{pr.reason}</td>
                  <td>{t(`inv.pr.${pr.status as 'open'}`)}</td>
                  <td>{formatDateTime(pr.created_at, lang)}</td>
                  <td class="actions">
                    {planner && pr.status === 'open' && (
                      <button type="button" onClick={() => act(() => client.post(`/purchase-requests/${pr.id}/order`, {}))}>
                        {t('inv.pr.approve')}
                      </button>
                    )}
                    {planner && (pr.status === 'open' || pr.status === 'ordered') && (
                      <>
                        <input
                          type="number"
                          min={1}
                          style="width:5rem"
                          aria-label={t('inv.pr.receiveQty', { sku: pr.sku ?? '' })}
                          value={recv[pr.id ?? ''] ?? String(pr.qty ?? '')}
                          onInput={(e) => setRecv({ ...recv, [pr.id ?? '']: (e.target as HTMLInputElement).value })}
                        />
                        <button type="button" class="ghost" onClick={() => receive(pr)}>
                          {t('inv.pr.receive')}
                        </button>
                        <button type="button" class="ghost" onClick={() => act(() => client.post(`/purchase-requests/${pr.id}/cancel`, {}))}>
                          {t('inv.pr.cancel')}
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="inv-ledger">
        <h2 id="inv-ledger">{t('inv.ledger')}</h2>
        <table class="table" data-testid="ledger">
          <thead>
            <tr>
              <th scope="col">{t('inv.col.at')}</th>
              <th scope="col">{t('inv.col.kind')}</th>
              <th scope="col">{t('inv.col.sku')}</th>
              <th scope="col">{t('inv.col.location')}</th>
              <th scope="col">{t('inv.col.delta')}</th>
              <th scope="col">{t('inv.col.order')}</th>
              <th scope="col">{t('inv.col.note')}</th>
            </tr>
          </thead>
          <tbody>
            {(ledger.data ?? []).map((m) => (
              <tr key={m.id}>
                <td>{formatDateTime(m.at, lang)}</td>
                <td>{m.kind}</td>
                <td>{m.sku ?? sku.get(m.part_id)}</td>
                <td>{loc.get(m.location_id) ?? ''}</td>
                <td>
                  {m.on_hand_delta} / {m.reserved_delta}
                </td>
                <td>{m.order_id ? <Link href={`/orders/${m.order_id}`}>{t('inv.col.order')}</Link> : ''}</td>
                <td>{m.note}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </section>
  );
}
