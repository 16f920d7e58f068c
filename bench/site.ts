import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { id } from "ethers";
import { A, TX, calls, facts, record, scheduled, topology } from "../test/helpers/watch-fixtures.ts";
import { cancelPath, reviewTitle } from "../src/review/operation.ts";
import { buildSite } from "../src/site/build.ts";
import { contentHash, decideOperation, operationOccurrences, type Decision } from "../src/watch/decide.ts";
import { Ledger } from "../src/watch/ledger.ts";
import type { Table } from "./table.ts";

/**
 * The review site's build time for `operations` operations in the watcher's ledger (SQLite on disk):
 * a full build into an empty folder, a rebuild with nothing changed, and an incremental rebuild after
 * one operation changed state (scheduled → executed). The decisions are the watcher's pure core run on
 * synthetic chain facts (test/helpers/watch-fixtures.ts), one review per operation id; the goal is a
 * full build under 2 s for 1,000 operations.
 */
export async function siteBenchmark(log: (line: string) => void, operations = 1000): Promise<Table[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-site-"));
  try {
    const r = record();
    const base = decideOperation(operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!, { topology, records: [r], facts: facts() });
    const states = ["scheduled", "executed", "executed", "cancelled", "scheduled"] as const;
    const decisions: Decision[] = [];
    for (let i = 0; i < operations; i++) {
      const operationId = id(`bench operation ${i}`);
      const tx = id(`bench tx ${i}`);
      const state = states[i % states.length]!;
      const point = { block: 100 + i, blockHash: id(`block ${i}`), txHash: tx };
      const review = {
        ...base.review!,
        key: `op:${operationId}:${tx}`,
        operationId,
        status: state,
        scheduled: { ...point, timestamp: 1_700_000_000 + i * 60 },
        eta: { timestamp: 1_700_003_600 + i * 60, iso: new Date((1_700_003_600 + i * 60) * 1000).toISOString() },
        ...(state === "executed" ? { executed: { ...point, block: point.block + 1 } } : {}),
        ...(state === "cancelled" ? { cancelled: { ...point, block: point.block + 1 } } : {}),
        cancel: cancelPath({ network: "default", chainId: 31337, timelock: A.timelock, operationId, createdAt: 0, what: "registry -> RegistryV2, vault -> VaultV2" }),
      };
      review.title = reviewTitle(review);
      decisions.push({ ...base, key: review.key, group: `op:${operationId}`, operationId, state, title: review.title, block: point.block, eta: review.eta.timestamp, review, contentHash: contentHash(review) });
    }
    const db = path.join(dir, "watch.sqlite");
    const ledger = new Ledger(db);
    ledger.transaction(() => decisions.forEach((d) => ledger.putSubject(d)));
    const out = path.join(dir, "site");
    const build = () => {
      const t0 = performance.now();
      const res = buildSite({ ledger: db, root: dir, network: "default", out, now: new Date(1_800_000_000_000) });
      return { ms: performance.now() - t0, written: res.written };
    };
    log(`  site: building ${operations} operations`);
    const full = build();
    const none = build();
    const changed = decisions.find((d) => d.state === "scheduled")!;
    const review = { ...changed.review!, status: "executed" as const, executed: { block: changed.block + 5, blockHash: id("exec"), txHash: id("exec tx") } };
    review.title = reviewTitle(review);
    ledger.putSubject({ ...changed, state: "executed", title: review.title, review, contentHash: contentHash(review) });
    ledger.close();
    const one = build();
    const row = (what: string, m: { ms: number; written: number }, goal: string) => [what, String(operations), m.ms.toFixed(0), String(m.written), goal];
    return [
      {
        title: `Review site build (gatehouse site): ${operations} operations from the watcher's ledger`,
        columns: [{ header: "build" }, { header: "operations", align: "right" }, { header: "time (ms)", align: "right" }, { header: "files written", align: "right" }, { header: "goal" }],
        rows: [row("full, into an empty folder", full, "< 2000 ms"), row("again, nothing changed", none, ""), row("incremental, one operation executed", one, "")],
        notes: ["Each build reads every subject from SQLite, renders the index, feed.xml and operations.json; pages (and cancel files) only when their operation's hash changed."],
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
