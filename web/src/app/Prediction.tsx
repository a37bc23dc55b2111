// The job page's prediction line: the fleet model's remaining life with its
// interval and the metrics that drive it, or a trend's failure time.
import type { WorkOrderDetail } from '../api/types';
import { formatDateTime, formatDuration } from '../lib/format';
import { coveragePercent, driversText, type FleetEvidenceFields } from '../lib/fleet';
import { useI18n } from './i18n';

/** What the order's prediction says, in words: the fleet model's remaining life, or a trend's failure time, or that there is none. */
export function PredictionLine({ order }: { order: WorkOrderDetail }) {
  const { t, lang } = useI18n();
  const ev = (order.evidence ?? {}) as FleetEvidenceFields;
  if (ev.model === 'fleet') {
    const d = (s?: number | null) => (s != null ? formatDuration(s, lang) : '—');
    const drivers = driversText(ev.drivers, lang);
    return (
      <>
        <p data-testid="job-prediction">
          {ev.rul_seconds != null
            ? t('job.fleet', {
                v: ev.model_version ?? '',
                rul: d(ev.rul_seconds),
                p: coveragePercent(ev.coverage),
                lower: d(ev.rul_lower_seconds),
                upper: d(ev.rul_upper_seconds),
              })
            : t('job.fleetNone', { v: ev.model_version ?? '' })}
        </p>
        {drivers && <p data-testid="job-drivers">{t('job.fleetDrivers', { list: drivers })}</p>}
      </>
    );
  }
  if (order.source !== 'trend') return null;
  return (
    <p data-testid="job-prediction">
      {order.predicted_failure_at ? t('job.predicted', { at: formatDateTime(order.predicted_failure_at, lang) }) : t('job.noPrediction')}
    </p>
  );
}
