// Windowing for long lists: which rows to render for a scroll position,
// so 10,000 rows cost what 30 do.

export interface Window {
  start: number; // first row rendered
  end: number; // one past the last
  top: number; // px of padding above
  bottom: number; // px below
}

export function visibleRange(total: number, rowHeight: number, scrollTop: number, viewport: number, overscan = 8): Window {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { start: first, end: Math.max(first, last), top: first * rowHeight, bottom: Math.max(0, (total - last) * rowHeight) };
}
