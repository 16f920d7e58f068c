import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Decision } from "./decide.ts";
import type { WatchedEvent } from "./events.ts";

/**
 * The watcher's state in SQLite (node:sqlite):
 *  - checkpoint: the last block indexed, with its hash (reorg detection), and the hashes of recent
 *    blocks the watcher saw (range ends and blocks with events), to find the common ancestor;
 *  - events: every watched event of the canonical chain up to the checkpoint;
 *  - dirty: groups (`op:<id>`, `tx:<hash>`) whose posts must be reconciled; written in the same
 *    transaction as the events and the checkpoint, cleared only after every sink has the post, so a
 *    crash between indexing and posting never skips a post;
 *  - hold: after a reorg, the block the old branch was indexed to; posts wait until the new branch is
 *    indexed that far (written with the rollback, so a crash in between cannot post a transient retraction);
 *  - subjects: the last decision for each post key (what is posted, for retractions and metrics);
 *  - simulations: the watcher's re-simulation of each pending operation per phase (scheduled, near
 *    the ETA), kept so a restart shows the same result instead of simulating and posting again;
 *  - posts: the post ledger keyed by (sink, key, kind) with the remote id and content hash, written as
 *    "intent" before a sink is called and "done" after, so a crash in between is detected on restart
 *    and resolved by looking the post up in the sink instead of posting again.
 */
export interface Checkpoint {
  block: number;
  hash: string;
}

export interface PostRow {
  sink: string;
  key: string;
  kind: string;
  status: "intent" | "done";
  remoteId: string | null;
  contentHash: string;
  seq: number;
}

export interface SubjectRow {
  key: string;
  group: string;
  state: string;
  severity: string;
  decision: Decision;
  eta: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  block INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash TEXT NOT NULL, tx_hash TEXT NOT NULL, tx_index INTEGER NOT NULL,
  address TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL, op_id TEXT,
  PRIMARY KEY (block, log_index)
);
CREATE INDEX IF NOT EXISTS events_op ON events(op_id);
CREATE INDEX IF NOT EXISTS events_tx ON events(tx_hash);
CREATE TABLE IF NOT EXISTS dirty (grp TEXT PRIMARY KEY, since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
  key TEXT PRIMARY KEY, grp TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, decision TEXT NOT NULL, eta INTEGER, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subjects_grp ON subjects(grp);
CREATE TABLE IF NOT EXISTS simulations (
  key TEXT NOT NULL, phase TEXT NOT NULL, result TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (key, phase)
);
CREATE TABLE IF NOT EXISTS posts (
  sink TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('intent', 'done')),
  remote_id TEXT, content_hash TEXT NOT NULL, seq INTEGER NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (sink, key, kind)
);
`;

type Row = Record<string, unknown>;

export class Ledger {
  readonly db: DatabaseSync;
  readonly file: string;

  constructor(file: string) {
    this.file = file;
    if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new DatabaseSync(file);
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  private getMeta(k: string): string | undefined {
    const row = this.db.prepare("SELECT v FROM meta WHERE k = ?").get(k) as Row | undefined;
    return row ? String(row.v) : undefined;
  }

  private setMeta(k: string, v: string): void {
    this.db.prepare("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v").run(k, v);
  }

  /** The monitors' history (src/watch/monitors.ts MonitorHistory as JSON), stored with the checkpoint. */
  monitorState(): string | undefined {
    return this.getMeta("monitors");
  }

  setMonitorState(json: string): void {
    this.setMeta("monitors", json);
  }

  /** Identity of what is watched; a ledger is never reused for another chain or timelock. */
  bind(identity: string): void {
    const existing = this.getMeta("identity");
    if (existing === undefined) this.setMeta("identity", identity);
    else if (existing !== identity) throw new Error(`${this.file} belongs to another watch (${existing}), not ${identity}`);
  }

  checkpoint(): Checkpoint | undefined {
    const v = this.getMeta("checkpoint");
    return v ? (JSON.parse(v) as Checkpoint) : undefined;
  }

  /** Store a fetched range atomically: its events, the block hashes seen, the new checkpoint, the dirty groups. */
  commitRange(input: { events: { event: WatchedEvent; opId?: string }[]; blocks: Checkpoint[]; checkpoint: Checkpoint; dirty: string[] }): void {
    this.transaction(() => {
      const insertEvent = this.db.prepare(
        "INSERT OR REPLACE INTO events (block, log_index, block_hash, tx_hash, tx_index, address, name, args, op_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      for (const { event: e, opId } of input.events) {
        insertEvent.run(e.block, e.logIndex, e.blockHash, e.txHash, e.txIndex, e.address, e.name, JSON.stringify(e.args), opId ?? null);
      }
      const insertBlock = this.db.prepare("INSERT OR REPLACE INTO blocks (number, hash) VALUES (?, ?)");
      for (const b of input.blocks) insertBlock.run(b.block, b.hash);
      insertBlock.run(input.checkpoint.block, input.checkpoint.hash);
      this.markDirty(input.dirty);
      this.setMeta("checkpoint", JSON.stringify(input.checkpoint));
    });
  }

  /** Start over from a block (first run, or a reorg deeper than anything the ledger remembers). */
  setCheckpoint(cp: Checkpoint): void {
    this.setMeta("checkpoint", JSON.stringify(cp));
  }

  /** Recorded block hashes at or below `block`, newest first (candidates for the common ancestor). */
  knownBlocks(below: number, limit = 64): Checkpoint[] {
    return (this.db.prepare("SELECT number, hash FROM blocks WHERE number <= ? ORDER BY number DESC LIMIT ?").all(below, limit) as Row[]).map((r) => ({
      block: Number(r.number),
      hash: String(r.hash),
    }));
  }

  /**
   * Forget everything above the common ancestor; every group that had events there becomes dirty, and
   * posts are held until the new branch is indexed as far as the old one was (see `hold`).
   */
  rollback(ancestor: Checkpoint): string[] {
    return this.transaction(() => {
      const old = this.checkpoint()?.block ?? ancestor.block;
      this.setMeta("hold", String(Math.max(old, this.hold() ?? -1)));
      const rows = this.db.prepare("SELECT DISTINCT op_id, tx_hash FROM events WHERE block > ?").all(ancestor.block) as Row[];
      const groups = [...new Set(rows.flatMap((r) => [...(r.op_id ? [`op:${String(r.op_id)}`] : []), `tx:${String(r.tx_hash)}`]))];
      this.db.prepare("DELETE FROM events WHERE block > ?").run(ancestor.block);
      this.db.prepare("DELETE FROM blocks WHERE number > ?").run(ancestor.block);
      this.db.prepare("INSERT OR REPLACE INTO blocks (number, hash) VALUES (?, ?)").run(ancestor.block, ancestor.hash);
      this.markDirty(groups);
      this.setMeta("checkpoint", JSON.stringify(ancestor));
      return groups;
    });
  }

  /** Keep the block-hash table small: range ends older than `keepAbove` are only needed for deep reorgs. */
  pruneBlocks(keepAbove: number): void {
    this.db.prepare("DELETE FROM blocks WHERE number < ? AND number NOT IN (SELECT DISTINCT block FROM events)").run(keepAbove);
  }

  /** The block the watcher must index up to before it reconciles posts again after a reorg, if any. */
  hold(): number | undefined {
    const v = this.getMeta("hold");
    return v === undefined ? undefined : Number(v);
  }

  clearHold(): void {
    this.db.prepare("DELETE FROM meta WHERE k = 'hold'").run();
  }

  markDirty(groups: string[]): void {
    // `since` is a sequence, not a clock: groups are reconciled in the order their events reached the ledger.
    const next = Number((this.db.prepare("SELECT coalesce(max(since), 0) + 1 AS s FROM dirty").get() as Row).s);
    const stmt = this.db.prepare("INSERT OR IGNORE INTO dirty (grp, since) VALUES (?, ?)");
    groups.forEach((g, i) => stmt.run(g, next + i));
  }

  dirtyGroups(): string[] {
    return (this.db.prepare("SELECT grp FROM dirty ORDER BY since, grp").all() as Row[]).map((r) => String(r.grp));
  }

  clearDirty(group: string): void {
    this.db.prepare("DELETE FROM dirty WHERE grp = ?").run(group);
  }

  private toEvent(r: Row): WatchedEvent {
    return {
      name: String(r.name) as WatchedEvent["name"],
      address: String(r.address),
      block: Number(r.block),
      blockHash: String(r.block_hash),
      txHash: String(r.tx_hash),
      txIndex: Number(r.tx_index),
      logIndex: Number(r.log_index),
      args: JSON.parse(String(r.args)) as Record<string, string>,
    };
  }

  eventsOfOperation(operationId: string): WatchedEvent[] {
    return (this.db.prepare("SELECT * FROM events WHERE op_id = ? ORDER BY block, log_index").all(operationId.toLowerCase()) as Row[]).map((r) => this.toEvent(r));
  }

  eventsOfTx(txHash: string): WatchedEvent[] {
    return (this.db.prepare("SELECT * FROM events WHERE tx_hash = ? ORDER BY block, log_index").all(txHash.toLowerCase()) as Row[]).map((r) => this.toEvent(r));
  }

  eventCount(): number {
    return Number((this.db.prepare("SELECT count(*) AS n FROM events").get() as Row).n);
  }

  // --- subjects ------------------------------------------------------------------------------

  subjectsOfGroup(group: string): SubjectRow[] {
    return (this.db.prepare("SELECT * FROM subjects WHERE grp = ? ORDER BY key").all(group) as Row[]).map((r) => this.toSubject(r));
  }

  subject(key: string): SubjectRow | undefined {
    const r = this.db.prepare("SELECT * FROM subjects WHERE key = ?").get(key) as Row | undefined;
    return r ? this.toSubject(r) : undefined;
  }

  /** Every subject with the time the watcher last changed it (the review site and its feed). */
  allSubjects(): (SubjectRow & { updatedAt: string })[] {
    return (this.db.prepare("SELECT * FROM subjects ORDER BY key").all() as Row[]).map((r) => ({ ...this.toSubject(r), updatedAt: String(r.updated_at) }));
  }

  private toSubject(r: Row): SubjectRow {
    return {
      key: String(r.key),
      group: String(r.grp),
      state: String(r.state),
      severity: String(r.severity),
      decision: JSON.parse(String(r.decision)) as Decision,
      eta: r.eta === null ? null : Number(r.eta),
    };
  }

  putSubject(d: Decision): void {
    this.db
      .prepare(
        "INSERT INTO subjects (key, grp, state, severity, decision, eta, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET grp = excluded.grp, state = excluded.state, severity = excluded.severity, decision = excluded.decision, eta = excluded.eta, updated_at = excluded.updated_at",
      )
      .run(d.key, d.group, d.state, d.severity, JSON.stringify(d), d.eta ?? null, new Date().toISOString());
  }

  /** Pending operations (state scheduled) with their ETA: the watcher re-simulates them as the ETA nears. */
  pendingSubjects(): { key: string; group: string; eta: number | null }[] {
    return (this.db.prepare("SELECT key, grp, eta FROM subjects WHERE state = 'scheduled'").all() as Row[]).map((r) => ({ key: String(r.key), group: String(r.grp), eta: r.eta === null ? null : Number(r.eta) }));
  }

  // --- simulations ---------------------------------------------------------------------------

  simulation<T>(key: string, phase: string): T | undefined {
    const r = this.db.prepare("SELECT result FROM simulations WHERE key = ? AND phase = ?").get(key, phase) as Row | undefined;
    return r ? (JSON.parse(String(r.result)) as T) : undefined;
  }

  putSimulation(key: string, phase: string, result: unknown): void {
    this.db
      .prepare("INSERT INTO simulations (key, phase, result, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key, phase) DO UPDATE SET result = excluded.result, updated_at = excluded.updated_at")
      .run(key, phase, JSON.stringify(result), new Date().toISOString());
  }

  /** Scheduled operations still waiting, and the nearest ETA among them. */
  pending(): { count: number; nextEta: number | null } {
    const r = this.db.prepare("SELECT count(*) AS n, min(eta) AS next FROM subjects WHERE state = 'scheduled'").get() as Row;
    return { count: Number(r.n), nextEta: r.next === null ? null : Number(r.next) };
  }

  alertCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare("SELECT decision FROM subjects WHERE severity = 'alert' AND state != 'retracted'").all() as Row[]) {
      const d = JSON.parse(String(r.decision)) as Decision;
      for (const kind of new Set(d.alerts.map((a) => a.kind))) out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  // --- post ledger ---------------------------------------------------------------------------

  private toPost(r: Row): PostRow {
    return {
      sink: String(r.sink),
      key: String(r.key),
      kind: String(r.kind),
      status: String(r.status) as PostRow["status"],
      remoteId: r.remote_id === null ? null : String(r.remote_id),
      contentHash: String(r.content_hash),
      seq: Number(r.seq),
    };
  }

  /** The latest row for (sink, key): what the sink shows now, or the intent that was in flight. */
  currentPost(sink: string, key: string): PostRow | undefined {
    const r = this.db.prepare("SELECT * FROM posts WHERE sink = ? AND key = ? ORDER BY seq DESC LIMIT 1").get(sink, key) as Row | undefined;
    return r ? this.toPost(r) : undefined;
  }

  remoteId(sink: string, key: string): string | undefined {
    const r = this.db.prepare("SELECT remote_id FROM posts WHERE sink = ? AND key = ? AND remote_id IS NOT NULL ORDER BY seq DESC LIMIT 1").get(sink, key) as Row | undefined;
    return r ? String(r.remote_id) : undefined;
  }

  private nextSeq(): number {
    const r = this.db.prepare("SELECT coalesce(max(seq), 0) + 1 AS s FROM posts").get() as Row;
    return Number(r.s);
  }

  intent(sink: string, key: string, kind: string, contentHash: string, remoteId: string | undefined): void {
    this.db
      .prepare(
        "INSERT INTO posts (sink, key, kind, status, remote_id, content_hash, seq, updated_at) VALUES (?, ?, ?, 'intent', ?, ?, ?, ?) ON CONFLICT (sink, key, kind) DO UPDATE SET status = 'intent', remote_id = coalesce(excluded.remote_id, posts.remote_id), content_hash = excluded.content_hash, seq = excluded.seq, updated_at = excluded.updated_at",
      )
      .run(sink, key, kind, remoteId ?? null, contentHash, this.nextSeq(), new Date().toISOString());
  }

  done(sink: string, key: string, kind: string, contentHash: string, remoteId: string | undefined): void {
    this.db
      .prepare(
        "INSERT INTO posts (sink, key, kind, status, remote_id, content_hash, seq, updated_at) VALUES (?, ?, ?, 'done', ?, ?, ?, ?) ON CONFLICT (sink, key, kind) DO UPDATE SET status = 'done', remote_id = coalesce(excluded.remote_id, posts.remote_id), content_hash = excluded.content_hash, seq = excluded.seq, updated_at = excluded.updated_at",
      )
      .run(sink, key, kind, remoteId ?? null, contentHash, this.nextSeq(), new Date().toISOString());
  }

  posts(sink?: string): PostRow[] {
    const rows = sink ? this.db.prepare("SELECT * FROM posts WHERE sink = ? ORDER BY seq").all(sink) : this.db.prepare("SELECT * FROM posts ORDER BY seq").all();
    return (rows as Row[]).map((r) => this.toPost(r));
  }
}
