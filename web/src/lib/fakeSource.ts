// For tests: a stand-in for the browser's EventSource. The test opens it,
// sends messages and drops it; the handlers the code under test set are
// what is tested.
export class FakeSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all: FakeSource[] = [];
  readyState = FakeSource.CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string; lastEventId: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSource.all.push(this);
  }
  open() {
    this.readyState = FakeSource.OPEN;
    this.onopen?.();
  }
  send(id: number, message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message), lastEventId: String(id) });
  }
  close() {
    this.readyState = FakeSource.CLOSED;
  }
}
