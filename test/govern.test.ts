import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ZeroAddress, ZeroHash, id } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { TEST_BUILD, execSafeTx } from "./helpers/watch-scenario.ts";
import { cancel } from "../src/pipeline/cancel.ts";
import { execute } from "../src/pipeline/execute.ts";
import { governanceRules, stageGovernance } from "../src/pipeline/govern.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { verify } from "../src/pipeline/verify.ts";
import { operationIdOf, scheduleCalldata } from "../src/proposal/derive.ts";
import { decodeGovernanceCall, governanceAction, governanceVerdict } from "../src/proposal/governance.ts";
import { proposalFile, writeProposal, type ProposalRecord } from "../src/records/proposal.ts";
import type { OperationReview } from "../src/review/operation.ts";
import { renderSafeTxSummary } from "../src/review/proposal.ts";
import { parseGovernAction } from "../src/cli/commands/govern.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { runOnce } from "../src/watch/watcher.ts";
import { expectGatehouseError } from "./helpers/expect-error.ts";

describe("govern: governance changes as records of their own kind, through the same pipeline", function () {
  this.timeout(600_000);
  let d: Deployed;
  const dirs: string[] = [];
  before(async () => {
    d = await deployed();
  });
  after(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
  });

  async function watch(): Promise<OperationReview[]> {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-govern-"));
    dirs.push(dir);
    await runOnce({ ...(await watcherOptions(d.setup, { build: TEST_BUILD })), sinks: [filesSink(path.join(dir, "posts"))], ledger: path.join(dir, "watch.sqlite"), retry: { baseDelayMs: 1 } });
    return readdirSync(path.join(dir, "posts"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(path.join(dir, "posts", f), "utf8")) as OperationReview & { type: string })
      .filter((j) => j.type === "operation");
  }

  it("the command line: typed actions, and Safe owner changes refused with their route", async () => {
    expect(parseGovernAction(["update-delay", "7200"])).to.deep.equal({ action: "updateDelay", delaySeconds: 7200n });
    expect(parseGovernAction(["grant-role", "canceller", ZeroAddress])).to.deep.include({ action: "grantRole", role: "CANCELLER_ROLE" });
    expect((await expectGatehouseError(() => parseGovernAction(["update-delay", "1h"]), "GOVERNANCE_ACTION_INVALID")).exitCode).to.equal(2);
    const e = await expectGatehouseError(() => parseGovernAction(["add-owner", ZeroAddress]), "SAFE_OWNERS_NOT_VIA_TIMELOCK");
    expect(e.explanation).to.contain("Safe transaction from the Safe to itself");
  });

  it("stages updateDelay, proposes, signs, waits the delay and executes it; the watcher's verdict is a governance review", async () => {
    const r = await stageGovernance({ setup: d.setup, actions: [{ action: "updateDelay", delaySeconds: 7200 }] });
    expect(r.record.kind).to.equal("governance");
    expect(r.record.actions![0]).to.include({ action: "updateDelay", delaySeconds: "7200" });
    expect(r.record.operationId).to.equal(operationIdOf(r.record));
    const v = await verify({ setup: d.setup, proposal: r.record.id });
    expect(v.checks.filter((c) => !c.ok)).to.deep.equal([]);
    expect(v.verified).to.equal(true);

    const proposed = await propose({ setup: d.setup, proposal: r.record.id, proposer: d.actors.owners[0] });
    // The signer reads the change in words decoded from the calldata being signed.
    const summary = renderSafeTxSummary({ record: proposed.record, safeTx: proposed.safeTx, approvals: proposed.approvals, threshold: proposed.threshold });
    expect(summary).to.contain("(governance change)");
    expect(summary).to.contain("updateDelay: the timelock's minimum delay becomes 7200s (2h)");
    await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
    expect((await execute({ setup: d.setup, proposal: r.record.id, executor: d.actors.deployer })).step).to.equal("scheduled");

    const review = (await watch()).find((o) => o.operationId === r.record.operationId.toLowerCase())!;
    expect(review.alerts).to.deep.equal([]);
    expect(review.severity).to.equal("review");
    expect(review.title).to.contain("governance change: updateDelay");
    expect(review.title).to.not.contain("upgrade");
    expect(review.calls[0]!.governance).to.include({ action: "updateDelay", policyConsistent: true });

    await expectGatehouseError(execute({ setup: d.setup, proposal: r.record.id, executor: d.actors.deployer }), "NOT_READY");
    await d.ctx.connection.networkHelpers.time.increase(3600);
    const done = await execute({ setup: d.setup, proposal: r.record.id, executor: d.actors.outsider });
    expect(done.step).to.equal("executed");
    expect(done.governanceChecks).to.deep.equal([{ action: "updateDelay 7200s", ok: true, detail: "the timelock's minimum delay is 7200s" }]);
    expect(await d.setup.timelock.getMinDelay()).to.equal(7200n);
  });

  it("a delay below the policy minimum: stage and propose refuse it; scheduled anyway through tricked owners, the watcher alerts and the guardian cancels", async () => {
    await expectGatehouseError(stageGovernance({ setup: d.setup, actions: [{ action: "updateDelay", delaySeconds: 60 }], delaySeconds: 7200 }), "GOVERNANCE_REFUSED");
    // The attacker's record: well-formed, ids that hash right, the call its fields say.
    const rules = governanceRules(d.setup);
    const action = governanceAction({ action: "updateDelay", delaySeconds: 60 }, rules);
    const draft = { kind: "governance" as const, actions: [action], operations: [], predecessor: ZeroHash, salt: id("attack delay") };
    const operationId = operationIdOf(draft);
    const record: ProposalRecord = {
      version: 2,
      ...draft,
      id: operationId.slice(2, 14),
      network: "default",
      chainId: 31337,
      createdAt: new Date().toISOString(),
      commit: null,
      timelock: rules.timelock,
      safe: rules.safe,
      round: 0,
      delay: "7200",
      operationId,
      artifacts: {},
      storageLayoutDiff: {},
      safeTransactions: [],
      state: "staged",
      history: [],
    };
    const file = proposalFile(d.root, "default", record.id);
    writeProposal(file, record);
    const refused = await expectGatehouseError(propose({ setup: d.setup, proposal: record.id, proposer: d.actors.owners[0] }), "GOVERNANCE_REFUSED");
    expect(refused.message).to.contain("BELOW the policy's minimum of 3600s");

    await execSafeTx(d, { to: rules.timelock, data: scheduleCalldata(record) });
    const review = (await watch()).find((o) => o.operationId === operationId.toLowerCase())!;
    expect(review.severity).to.equal("alert");
    expect(review.alerts.map((a) => [a.kind, a.check])).to.deep.include(["delay-change", "call 1: governance change"]);
    expect(review.verification.status).to.not.equal("verified");
    // Cancellable like any operation.
    await cancel({ setup: d.setup, operationId, guardian: d.actors.guardian });
    rmSync(file);
  });

  it("red team: a deployment record edited to name the attacker as a canceller does not make granting it the role consistent", async () => {
    // Records are claims: the policy (protected branch) names the guardians and the executor, not deployments/.
    const edited = { ...d.setup, deployment: structuredClone(d.setup.deployment) };
    edited.deployment.timelock.cancellers = [...edited.deployment.timelock.cancellers, d.actors.outsider.address];
    await expectGatehouseError(stageGovernance({ setup: edited, actions: [{ action: "grantRole", role: "CANCELLER_ROLE", account: d.actors.outsider.address }] }), "GOVERNANCE_REFUSED");
    const rules = governanceRules(edited);
    const action = governanceAction({ action: "grantRole", role: "CANCELLER_ROLE", account: d.actors.outsider.address }, rules);
    const draft = { kind: "governance" as const, actions: [action], operations: [], predecessor: ZeroHash, salt: id("attack canceller") };
    const operationId = operationIdOf(draft);
    const record: ProposalRecord = { version: 2, ...draft, id: operationId.slice(2, 14), network: "default", chainId: 31337, createdAt: new Date().toISOString(), commit: null, timelock: rules.timelock, safe: rules.safe, round: 0, delay: "7200", operationId, artifacts: {}, storageLayoutDiff: {}, safeTransactions: [], state: "staged", history: [] };
    const file = proposalFile(d.root, "default", record.id);
    writeProposal(file, record);
    try {
      const v = await verify({ setup: edited, proposal: record.id });
      expect(v.checks.find((c) => c.name === "governance action 1")!.ok).to.equal(false);
      await execSafeTx(d, { to: rules.timelock, data: scheduleCalldata(record) });
      const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-govern-"));
      dirs.push(dir);
      await runOnce({ ...(await watcherOptions(edited, { build: TEST_BUILD })), sinks: [filesSink(path.join(dir, "posts"))], ledger: path.join(dir, "watch.sqlite"), retry: { baseDelayMs: 1 } });
      const review = readdirSync(path.join(dir, "posts"))
        .filter((f) => f.endsWith(".json"))
        .map((f) => JSON.parse(readFileSync(path.join(dir, "posts", f), "utf8")) as OperationReview & { type: string })
        .find((j) => j.type === "operation" && j.operationId === operationId.toLowerCase())!;
      expect(review.severity).to.equal("alert");
      expect(review.alerts.map((a) => [a.kind, a.check])).to.deep.include(["role-change", "call 1: governance change"]);
      await cancel({ setup: d.setup, operationId, guardian: d.actors.guardian });
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("the rules, pure: roles only to the policy's holders, revoking a required holder, unpause only a governed proxy", () => {
    const rules = governanceRules(d.setup);
    const verdict = (input: Parameters<typeof governanceAction>[0]) => {
      const a = governanceAction(input, rules);
      return governanceVerdict(decodeGovernanceCall(a.call, rules)!, rules).ok;
    };
    expect(verdict({ action: "grantRole", role: "PROPOSER_ROLE", account: d.actors.outsider.address })).to.equal(false);
    expect(verdict({ action: "grantRole", role: "PROPOSER_ROLE", account: rules.safe })).to.equal(true);
    expect(verdict({ action: "grantRole", role: "CANCELLER_ROLE", account: d.actors.guardian.address })).to.equal(true);
    expect(verdict({ action: "grantRole", role: "EXECUTOR_ROLE", account: d.actors.outsider.address })).to.equal(false);
    expect(verdict({ action: "grantRole", role: "DEFAULT_ADMIN_ROLE", account: d.actors.deployer.address })).to.equal(false);
    expect(verdict({ action: "revokeRole", role: "CANCELLER_ROLE", account: d.actors.guardian.address })).to.equal(false);
    expect(verdict({ action: "revokeRole", role: "CANCELLER_ROLE", account: d.actors.outsider.address })).to.equal(true);
    expect(verdict({ action: "unpause", proxy: "vault" })).to.equal(true);
    expect(decodeGovernanceCall({ target: d.actors.outsider.address, data: "0x3f4ba83a" }, rules)).to.deep.include({ action: "unpause" });
    expect(governanceVerdict(decodeGovernanceCall({ target: d.actors.outsider.address, data: "0x3f4ba83a" }, rules)!, rules).ok).to.equal(false);
  });
});
