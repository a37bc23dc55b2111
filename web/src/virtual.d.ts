// Build-time modules (vite plugins in web/).
declare module 'virtual:china-provinces' {
  import type { Topology } from 'topojson-specification';
  /** China's province outlines, simplified (china-provinces.ts); one object, "provinces". */
  const topology: Topology;
  export default topology;
}
