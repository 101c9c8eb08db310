// The live feed: one EventSource on /v1/stream. A snapshot fills the state, deltas
// change it, `seen` batches move heartbeat times; the browser reconnects by itself
// and sends Last-Event-ID, so the controller replays what was missed.

export class Feed {
  constructor() {
    this.rows = new Map();
    this.alarms = [];
    this.events = [];
    this.strategies = [];
    this.updates = [];
    this.listeners = new Set();
    this.connected = false;
    this.stats = { snapshots: 0, deltas: 0, lastDeltaAt: 0, lastAppliedAt: 0 };
    window.ternFeed = this;
  }

  start() {
    this.source = new EventSource("/v1/stream");
    this.source.addEventListener("open", () => this.setConnected(true));
    this.source.addEventListener("error", () => {
      this.setConnected(false);
      // A closed stream that the browser gave up on: usually the session ended.
      if (this.source.readyState === EventSource.CLOSED) {
        fetch("/v1/alarms/summary", { credentials: "same-origin" }).then((response) => {
          if (response.status === 401) location.href = "/signin";
          else setTimeout(() => this.start(), 2000);
        });
      }
    });
    this.source.addEventListener("snapshot", (event) => this.snapshot(JSON.parse(event.data)));
    this.source.addEventListener("delta", (event) => this.delta(JSON.parse(event.data)));
    this.source.addEventListener("seen", (event) => this.seen(JSON.parse(event.data)));
  }

  setConnected(connected) {
    this.connected = connected;
    this.emit({ kind: "connection" });
  }

  snapshot(data) {
    this.rows = new Map(data.rows.map((row) => [row.name, row]));
    this.alarms = data.alarms;
    this.events = data.events;
    this.strategies = data.strategies;
    this.updates = data.updates;
    this.stats.snapshots += 1;
    this.emit({ kind: "snapshot" });
  }

  delta(data) {
    for (const row of data.rows) this.rows.set(row.name, row);
    for (const name of data.removed) this.rows.delete(name);
    if (data.alarms) this.alarms = data.alarms;
    if (data.events) this.events = this.events.concat(data.events).slice(-500);
    if (data.strategies) this.strategies = data.strategies;
    if (data.updates) this.updates = data.updates;
    this.stats.deltas += 1;
    this.stats.lastDeltaAt = data.at;
    this.emit({ kind: "delta", delta: data });
    this.stats.lastAppliedAt = Date.now() / 1000;
  }

  seen(data) {
    for (const [name, seen] of Object.entries(data)) {
      const row = this.rows.get(name);
      if (row) row.seen = seen;
    }
    this.emit({ kind: "seen" });
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change) {
    for (const listener of [...this.listeners]) listener(change);
  }
}
