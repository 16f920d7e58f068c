import { expect } from "chai";
import { A, TX, calls, facts, record, scheduled, event, topology } from "./helpers/watch-fixtures.ts";
import { decideOperation, decideTransaction, operationOccurrences, retractDecision } from "../src/watch/decide.ts";
import { cancelPath, operationReviewJson, renderOperationMarkdown, reviewSummary, timeLeft } from "../src/review/operation.ts";
import { alertSummary, renderAlertMarkdown } from "../src/review/alert.ts";
import { txBuilderChecksum } from "../src/review/tx-builder.ts";
import { renderText } from "../src/review/untrusted.ts";
import { encodeCancel, timelockInterface } from "../src/timelock/calls.ts";

/** The review of an operation as people read it (pure): Markdown and JSON from the review model. */
describe("review: an operation's Markdown and JSON", () => {
  const r = record();
  const occ = () => operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
  const withSafe = facts({
    implementations: { [`${A.vault.toLowerCase()}@10`]: A.vaultV1 },
  });

  it("says what the operation does, where it comes from, whether it checks out, when it runs and how to stop it", () => {
    const review = decideOperation(occ(), { topology, records: [r], facts: withSafe }).review!;
    const md = renderText(renderOperationMarkdown(review, timeLeft(review.eta!.timestamp, 1_000_100)), "markdown");
    const sections = ["## ⏳ Queued: upgrade registry to RegistryV2, vault to VaultV2", "### What it does", "### Operation", "### Proposal", "### Storage layout diff", "### Verification", "### Cancel path (guardian)"];
    let at = -1;
    for (const s of sections) {
      const i = md.indexOf(s);
      expect(i, s).to.be.greaterThan(at);
      at = i;
    }
    for (const text of [
      `Upgrade **vault** (UUPS proxy \`${A.vault}\`) from \`${A.vaultV1}\` (VaultV1) to \`${A.vaultV2}\` (VaultV2), without calling an initializer.`,
      `Upgrade **registry** (Transparent proxy \`${A.registry}\`) through its ProxyAdmin \`${A.registryAdmin}\``,
      "**Status:** queued, ETA **1970-01-12T14:46:40Z** (58m 20s left)",
      "| Delay | 3600s (1h) |",
      `- Commit: \`${r.commit}\``,
      `- Record: \`proposals/default/${r.id}.json\``,
      `signers (2 of threshold 2): \`${A.owner1}\`, \`${A.owner2}\``,
      "| `depositCap` | `uint256` | 2 | 0 | appended |",
      "- [x] call 2: implementation build: the code of",
      `1. Command: \`npx gatehouse cancel ${r.operationId} --network default\``,
      `calldata \`${encodeCancel(r.operationId)}\``,
    ]) {
      expect(md, text).to.contain(text);
    }
    expect(renderText(reviewSummary(review, timeLeft(review.eta!.timestamp, 1_000_100)), "plain")).to.equal(
      `Queued: upgrade registry to RegistryV2, vault to VaultV2 (op ${r.operationId.slice(0, 10)}…). ETA 1970-01-12T14:46:40Z (58m 20s left). Verified. Cancel: npx gatehouse cancel ${r.operationId} --network default`,
    );
  });

  it("the JSON carries the same model, with the time left kept apart from what is hashed", () => {
    const review = decideOperation(occ(), { topology, records: [r], facts: withSafe }).review!;
    const json = operationReviewJson(review, timeLeft(review.eta!.timestamp, 1_003_600));
    expect(json.timeLeft).to.deep.equal({ now: 1_003_600, seconds: 0, text: "ready now" });
    expect(json.calls[1]!.upgrade).to.include({ proxyName: "vault", oldImplementation: A.vaultV1, newImplementation: A.vaultV2, contract: "VaultV2", initializer: "0x" });
    expect(json.safeTransaction).to.include({ safeTxHash: "0x" + "5e".repeat(32), threshold: 2, nonce: 4 });
    expect(json.safeTransaction).to.include({ matchesRecord: true });
    expect(JSON.parse(JSON.stringify(json))).to.deep.equal(json);
    expect("timeLeft" in review).to.equal(false);
  });

  it("the cancel path: the exact cancel(bytes32) call, a valid Transaction Builder file for the guardian Safe, the command", () => {
    const c = cancelPath({ network: "sepolia", chainId: 11155111, timelock: A.timelock, operationId: r.operationId, guardianSafeTx: { safe: A.guardian, nonce: 0 }, createdAt: 1_700_000_000_000, what: "vault -> VaultV2" });
    expect(c.calldata).to.equal(encodeCancel(r.operationId));
    expect(timelockInterface.decodeFunctionData("cancel", c.calldata)[0]).to.equal(r.operationId);
    expect(c.command).to.equal(`npx gatehouse cancel ${r.operationId} --network sepolia`);
    expect(c.builderCommand).to.contain("--builder-file");
    expect(c.txBuilder.chainId).to.equal("11155111");
    expect(c.txBuilder.meta.createdFromSafeAddress).to.equal(A.guardian);
    expect(c.txBuilder.transactions).to.deep.equal([
      {
        to: A.timelock,
        value: "0",
        data: c.calldata,
        contractMethod: { inputs: [{ internalType: "bytes32", name: "id", type: "bytes32" }], name: "cancel", payable: false },
        contractInputsValues: { id: r.operationId },
      },
    ]);
    expect(c.txBuilder.meta.checksum).to.equal(txBuilderChecksum(c.txBuilder));
  });

  it("executed, cancelled and retracted operations say so and no longer offer the cancel as an action", () => {
    const events = [...scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), event("CallExecuted", { id: r.operationId, index: "0", ...calls.registry }, { block: 20, tx: TX.execute })];
    const done = decideOperation(operationOccurrences(events, A.timelock)[0]!, { topology, records: [r], facts: facts({ txs: { [TX.execute]: { from: A.owner2, to: A.timelock } } }) });
    const md = renderOperationMarkdown(done.review!);
    expect(md).to.contain(`**Status:** executed in block 20 (tx \`${TX.execute}\`)`).and.to.contain("_The operation is executed; it can no longer be cancelled._");
    expect(md).to.not.contain("left)");
    const retracted = retractDecision(decideOperation(occ(), { topology, records: [r], facts: facts() }));
    expect(renderOperationMarkdown(retracted.review!)).to.contain("**RETRACTED.**");
    expect(operationReviewJson(retracted.review!, timeLeft(1, 0))).to.not.have.property("timeLeft");
  });

  it("an alert about an event renders what happened, where, and what to do", () => {
    const [d] = decideTransaction(TX.other, [event("Upgraded", { implementation: A.attacker }, { block: 9, tx: TX.other, address: A.vault })], { topology, records: [], facts: facts({ txs: { [TX.other]: { from: A.attacker, to: A.vault } } }) });
    const md = renderText(renderAlertMarkdown(d!.alert!), "markdown");
    expect(md).to.contain(`## 🚨 ALERT: Upgrade outside the timelock: vault now runs ${A.attacker}`);
    expect(md).to.contain(`| Transaction | \`${TX.other}\` from \`${A.attacker}\` |`);
    expect(md).to.contain("**What to do:**");
    expect(alertSummary(d!.alert!)).to.match(/^ALERT: Upgrade outside the timelock/);
    expect(alertSummary({ ...d!.alert!, status: "retracted" })).to.match(/^RETRACTED: ALERT/);
  });
});
