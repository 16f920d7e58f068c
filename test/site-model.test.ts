import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { id } from "ethers";
import { A, COMMIT, TX, calls, facts, record, scheduled, topology } from "./helpers/watch-fixtures.ts";
import { reviewTitle, type OperationReview } from "../src/review/operation.ts";
import { readSimulation } from "../src/site/build.ts";
import { buildSiteModel, feedItems, type SiteSubject } from "../src/site/model.ts";
import { renderEntryPage, renderFeed } from "../src/site/render.ts";
import { contentHash, decideOperation, operationOccurrences, type Decision } from "../src/watch/decide.ts";

/** The site's pure core on synthetic decisions (the browser test covers the pages on a real chain). */
describe("site: model, ordering, feed and packets (pure)", () => {
  const r = record();
  const base = decideOperation(operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!, { topology, records: [r], facts: facts() });

  function subject(n: number, over: { state: Decision["state"]; severity?: "review" | "alert"; eta?: number; block?: number; commit?: string }): SiteSubject {
    const operationId = id(`op ${n}`);
    const tx = id(`tx ${n}`);
    const point = { block: over.block ?? 100 + n, blockHash: id(`b ${n}`), txHash: tx };
    const review: OperationReview = {
      ...base.review!,
      key: `op:${operationId}:${tx}`,
      operationId,
      status: over.state as OperationReview["status"],
      severity: over.severity ?? "review",
      alerts: over.severity === "alert" ? [{ kind: "unknown-operation", message: "nobody proposed it" }] : [],
      scheduled: point,
      ...(over.eta !== undefined ? { eta: { timestamp: over.eta, iso: "" } } : {}),
      ...(over.state === "executed" ? { executed: { ...point, block: point.block + 1 } } : {}),
      ...(over.state === "cancelled" ? { cancelled: { ...point, block: point.block + 1 } } : {}),
      proposal: { ...base.review!.proposal!, id: `p${n}`, commit: over.commit ?? COMMIT },
    };
    review.title = reviewTitle(review);
    const decision: Decision = { ...base, key: review.key, group: `op:${operationId}`, operationId, state: over.state, severity: review.severity, alerts: review.alerts, title: review.title, block: point.block, ...(over.eta !== undefined ? { eta: over.eta } : {}), review, contentHash: contentHash(review) };
    return { decision, updatedAt: `2026-01-01T00:00:${String(n).padStart(2, "0")}.000Z` };
  }

  it("orders alerts first, then pending by ETA, executed and cancelled newest first, retracted last; a cancelled alert is settled", () => {
    const subjects = [
      subject(1, { state: "cancelled", severity: "alert" }),
      subject(2, { state: "scheduled", eta: 5000 }),
      subject(3, { state: "executed", block: 50 }),
      subject(4, { state: "retracted" }),
      subject(5, { state: "scheduled", eta: 4000 }),
      subject(6, { state: "executed", block: 60 }),
      subject(7, { state: "executed", severity: "alert" }),
    ];
    const model = buildSiteModel({ network: "default", generatedAt: "2026-01-02T00:00:00.000Z", subjects, simulations: {} });
    expect(model.entries.map((e) => [e.urgency, e.review!.proposal!.id])).to.deep.equal([
      ["alert", "p7"],
      ["pending", "p5"],
      ["pending", "p2"],
      ["executed", "p6"],
      ["executed", "p3"],
      ["cancelled", "p1"],
      ["retracted", "p4"],
    ]);
    // One Atom entry per state change: scheduled, then executed or cancelled.
    const items = feedItems(model).map((i) => i.id);
    expect(items.filter((i) => i.startsWith(subjects[0]!.decision.key))).to.have.members([`${subjects[0]!.decision.key}:scheduled`, `${subjects[0]!.decision.key}:cancelled`]);
    expect(renderFeed(model)).to.match(/^<\?xml version="1.0" encoding="utf-8"\?>\n<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/);
  });

  it("a page's hash changes only with its operation; the compare link goes back to the last executed upgrade of the same proxy", () => {
    const older = subject(1, { state: "executed", block: 5, commit: "a".repeat(40) });
    const pending = subject(2, { state: "scheduled", eta: 9000, block: 20 });
    const one = buildSiteModel({ network: "default", generatedAt: "x", subjects: [older, pending], simulations: {}, repository: "https://github.com/acme/governance" });
    const two = buildSiteModel({ network: "default", generatedAt: "y", subjects: [older, subject(2, { state: "executed", block: 20 })], simulations: {}, repository: "https://github.com/acme/governance" });
    const hash = (m: typeof one, key: string) => m.entries.find((e) => e.key === key)!.hash;
    expect(hash(one, older.decision.key)).to.equal(hash(two, older.decision.key));
    expect(hash(one, pending.decision.key)).to.not.equal(hash(two, pending.decision.key));
    const p = one.entries.find((e) => e.key === pending.decision.key)!;
    expect(p.source).to.deep.equal({ commit: COMMIT, commitUrl: `https://github.com/acme/governance/commit/${COMMIT}`, previous: { commit: "a".repeat(40), proposal: "p1", url: `https://github.com/acme/governance/compare/${"a".repeat(40)}...${COMMIT}` } });
    expect(p.builderFile).to.equal(`${p.page.replace(/\.html$/, "")}.cancel.json`);
    // A repository address that is not a plain https origin/owner/name gives no links at all.
    const bad = buildSiteModel({ network: "default", generatedAt: "x", subjects: [pending], simulations: {}, repository: "javascript:alert(1)//x/y" });
    expect(bad.entries[0]!.source).to.deep.equal({ commit: COMMIT });
  });

  it("a signer packet: its simulation is shown; a malformed one is named with its field, a missing one skipped", () => {
    const root = mkdtempSync(path.join(tmpdir(), "gatehouse-site-model-"));
    try {
      mkdirSync(path.join(root, "proposals/default"), { recursive: true });
      expect(readSimulation(root, "default", "p1")).to.equal(undefined);
      writeFileSync(path.join(root, "proposals/default/p1.validation.json"), JSON.stringify({ operationId: "0x1", run: { forkBlock: "seven" } }));
      expect(readSimulation(root, "default", "p1")).to.deep.equal({ file: "proposals/default/p1.validation.json", problem: "run.forkBlock: Invalid input: expected number, received string" });
      writeFileSync(path.join(root, "proposals/default/p2.validation.json"), "{");
      expect((readSimulation(root, "default", "p2") as { problem: string }).problem).to.match(/^not valid JSON/);
      const s = subject(3, { state: "scheduled", eta: 1 });
      const model = buildSiteModel({ network: "default", generatedAt: "x", subjects: [s], simulations: { p3: { file: "proposals/default/p3.validation.json", problem: "run.steps: Required" } } });
      expect(renderEntryPage(model.entries[0]!, "default")).to.contain("could not be used: run.steps: Required");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
