// Positions while the engineer has an open job: kept in IndexedDB and sent
// as one batch (POST /me/locations) when online, at most every minute.
import { addPoint, allPoints, deletePoints } from './db';
import { newKey } from './outbox';

const minGapMs = 30_000;

export class Tracker {
  private watch: number | undefined;
  private last = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private sending = false;

  start() {
    if (this.watch !== undefined || !('geolocation' in navigator)) return;
    this.watch = navigator.geolocation.watchPosition(
      (p) => {
        if (p.timestamp - this.last < minGapMs) return;
        this.last = p.timestamp;
        void addPoint({ at: new Date(p.timestamp).toISOString(), lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy });
      },
      () => {},
      { enableHighAccuracy: false, maximumAge: 60_000 },
    );
    this.timer = setInterval(() => void this.flush(), 60_000);
  }

  stop() {
    if (this.watch !== undefined) navigator.geolocation.clearWatch(this.watch);
    if (this.timer) clearInterval(this.timer);
    this.watch = this.timer = undefined;
  }

  /** Sends every kept point as one batch (up to 2,000 a request). */
  async flush(): Promise<void> {
    if (this.sending || !navigator.onLine) return;
    this.sending = true;
    try {
      const pts = (await allPoints()).sort((a, b) => a.at.localeCompare(b.at)).slice(0, 2000);
      if (pts.length === 0) return;
      const r = await fetch('/api/v1/me/locations', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-PDM-Client': 'app', 'Idempotency-Key': newKey() },
        body: JSON.stringify({ points: pts }),
      });
      // Sent (or refused for good, e.g. no engineer record): forget them.
      if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 429)) await deletePoints(pts.map((p) => p.at));
    } catch {
      // offline: they wait
    } finally {
      this.sending = false;
    }
  }
}
