import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Interface, Wallet, ZeroAddress, ZeroHash, getBytes, hexlify, id, concat, toBeHex, zeroPadValue, Signature } from "ethers";
import { A, ROLES, SALT, TX, calls, event, facts, record, safeExecuted, scheduleBatchData, scheduled, topology } from "./helpers/watch-fixtures.ts";
import { hashOperationBatch, upgradeInterface } from "../src/timelock/calls.ts";
import { bytecodeHash } from "../src/plan/bytecode.ts";
import { decideOperation, decideTransaction, operationOccurrences, renderDecision, retractDecision, watchedAddresses } from "../src/watch/decide.ts";
import { WATCH_TOPICS, decodeLog, watchInterface } from "../src/watch/events.ts";
import { Ledger } from "../src/watch/ledger.ts";
import { classifyRpcError, retryingRpc, RpcError, type Rpc } from "../src/watch/rpc.ts";
import { safeSignatureOwners } from "../src/watch/safe-signers.ts";
import { rangeState, syncToHead } from "../src/watch/indexer.ts";
import { untag } from "../src/review/untrusted.ts";
import { fileKey, marker, parseMarker, type SinkPost } from "../src/watch/sinks/sink.ts";
import { webhookPayload } from "../src/watch/sinks/webhook.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { closeReason, issueBody, issueLabels } from "../src/watch/sinks/github.ts";

/** The watcher's pure core and its small adapters, without a chain. */

describe("watch core: operations and severity (pure)", () => {
  const r = record();

  it("a scheduled batch that matches a proposal record is a verified review", () => {
    const occs = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock);
    expect(occs).to.have.length(1);
    const d = decideOperation(occs[0]!, { topology, records: [r], facts: facts() });
    expect(d).to.include({ severity: "review", state: "scheduled", eta: 1_003_600, group: `op:${r.operationId.toLowerCase()}`, key: `op:${r.operationId.toLowerCase()}:${TX.schedule}` });
    expect(d.review!.verification.status).to.equal("verified");
    expect(d.review!.verification.checks.filter((c) => !c.ok)).to.deep.equal([]);
    expect(d.review!.verification.checks.map((c) => c.name)).to.deep.equal([
      "scheduled calls",
      "proposal record",
      "call 1: governed upgrade",
      "call 1: upgrade path",
      "call 1: implementation build",
      "call 2: governed upgrade",
      "call 2: upgrade path",
      "call 2: implementation build",
      "scheduled by the Safe",
      "recorded Safe transaction",
      "signed by owners",
    ]);
    expect(d.review!.calls.map((c) => [c.upgrade!.proxyName, c.upgrade!.contract])).to.deep.equal([["registry", "RegistryV2"], ["vault", "VaultV2"]]);
    expect(d.review!.calls[0]!.upgrade!.proxyAdmin).to.equal(A.registryAdmin);
    expect(d.review!.proposal).to.deep.include({ id: r.id, commit: r.commit });
  });

  it("an operation with no record is an alert (unknown-operation), still with its cancel path", () => {
    const opId = id("unknown op");
    const occ = operationOccurrences(scheduled(opId, [calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const d = decideOperation(occ, { topology, records: [r], facts: facts() });
    expect(d.severity).to.equal("alert");
    // The Safe transaction of that block scheduled another operation: this one came from elsewhere too.
    expect(d.alerts.map((a) => a.kind)).to.deep.equal(["unknown-operation", "not-scheduled-by-safe"]);
    expect(d.review!.verification.status).to.equal("unverified");
    expect(d.review!.cancel.calldata).to.equal(encodeCancel(opId));
    expect(d.review!.cancel.command).to.equal(`npx gatehouse cancel ${opId} --network default`);
    expect(untag(d.title)).to.equal(`ALERT (unknown-operation, not-scheduled-by-safe): Queued: upgrade vault to ${A.vaultV2.slice(0, 6)}…${A.vaultV2.slice(-4)} (op ${opId.slice(0, 10)}…)`);
  });

  it("an implementation whose bytecode differs from the watcher's own build is an alert (bytecode-mismatch)", () => {
    const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const d = decideOperation(occ, { topology, records: [r], facts: facts({ code: { [A.vaultV2.toLowerCase()]: "0x6666", [A.registryV2.toLowerCase()]: null } }) });
    expect(d.severity).to.equal("alert");
    expect(d.alerts.map((a) => a.kind)).to.deep.equal(["bytecode-mismatch", "bytecode-mismatch"]);
    expect(d.review!.verification.status).to.equal("failed");
    expect(renderDecision(d, 1_000_100).markdown).to.contain(`hashes to nothing (no code), the build of RegistryV2 at commit ${r.commit} to`);
  });

  it("code equal to the build immutables aside is still an alert when UUPS __self is not the implementation's own address", () => {
    // A 40-byte runtime whose bytes 4..35 are UUPSUpgradeable's __self, as the build info names it.
    const refs = { "7": [{ start: 4, length: 32 }] };
    const names = { "7": { name: "__self", source: "npm/@openzeppelin/contracts-upgradeable@5.7.0/proxy/utils/UUPSUpgradeable.sol" } };
    const code = (self: string) => "0x60806040" + zeroPadValue(self, 32).slice(2) + "5b005b00";
    const build = { ok: true as const, bytecodeHash: bytecodeHash(code(A.vaultV2), refs), immutableReferences: refs, immutableNames: names };
    const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const decide = (self: string) => {
      const f = facts();
      return decideOperation(occ, { topology, records: [r], facts: { ...f, code: { ...f.code, [A.vaultV2.toLowerCase()]: code(self) }, builds: { ...f.builds, [`${r.commit}:VaultV2`]: build } } });
    };
    expect(decide(A.vaultV2).alerts).to.deep.equal([]);
    const foreign = decide(A.registry);
    expect(foreign.alerts.map((a) => [a.kind, a.check])).to.deep.equal([["bytecode-mismatch", "call 2: implementation build"]]);
    expect(foreign.alerts[0]!.message).to.contain("__self (UUPSUpgradeable.sol)").and.contain("expected the implementation's own address");
  });

  it("a record whose calls no longer hash to its id is an alert (operation-mismatch)", () => {
    const tampered = { ...r, operations: r.operations.map((o) => (o.proxy === "vault" ? { ...o, call: { ...o.call, data: calls.registry.data } } : o)) };
    const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const d = decideOperation(occ, { topology, records: [tampered], facts: facts() });
    expect(d.alerts.map((a) => a.kind)).to.include("operation-mismatch");
  });

  it("follows an id through schedule → cancel → schedule again → execute as two posts", () => {
    const events = [
      ...scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }),
      event("Cancelled", { id: r.operationId }, { block: 11, tx: TX.cancel }),
      ...scheduled(r.operationId, [calls.registry, calls.vault], { block: 20, tx: TX.again }),
      event("CallExecuted", { id: r.operationId, index: "0", ...calls.registry }, { block: 30, tx: TX.execute }),
      event("CallExecuted", { id: r.operationId, index: "1", ...calls.vault }, { block: 30, tx: TX.execute }),
    ];
    const occs = operationOccurrences(events, A.timelock);
    expect(occs.map((o) => [o.scheduled.txHash, o.cancelled?.txHash, o.executed?.txHash])).to.deep.equal([
      [TX.schedule, TX.cancel, undefined],
      [TX.again, undefined, TX.execute],
    ]);
    const [first, second] = occs.map((o) => decideOperation(o, { topology, records: [r], facts: facts() }));
    expect([first!.state, second!.state]).to.deep.equal(["cancelled", "executed"]);
    // Scheduled again after a cancel: still a review, and it says so with the history.
    expect(second!.severity).to.equal("review");
    expect(first!.review!.history).to.equal(undefined);
    expect(second!.review!.history!.map((h) => [h.scheduled.txHash, h.cancelled?.txHash])).to.deep.equal([[TX.schedule, TX.cancel]]);
    expect(renderDecision(second!, 1_000_100).markdown).to.contain("> **Scheduled again.** This operation id was scheduled 1 time before:").and.to.contain(`cancelled in block 11 (tx \`${TX.cancel}\`)`);
    expect(first!.key).to.not.equal(second!.key);
    const retracted = retractDecision(second!);
    expect(retracted.state).to.equal("retracted");
    expect(retracted.title).to.match(/^Retracted: /);
    expect(retracted.contentHash).to.not.equal(second!.contentHash);
  });

  it("signatures that do not reach the threshold of owners, and an unknown predecessor, are alerts naming the check", () => {
    const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const lone = facts({ txs: { [TX.schedule]: safeExecuted(scheduleBatchData([calls.registry, calls.vault]), { signers: [A.owner1, A.attacker] }) } });
    const d = decideOperation(occ, { topology, records: [r], facts: lone });
    expect(d.alerts.map((a) => [a.kind, a.check])).to.deep.equal([["signers-not-owners", "signed by owners"]]);
    expect(d.alerts[0]!.message).to.contain(`(not owners: ${A.attacker})`);

    const pred = id("nobody's operation");
    const chained = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }).map((e) => (e.name === "CallScheduled" ? { ...e, args: { ...e.args, predecessor: pred } } : e)), A.timelock)[0]!;
    const unknown = decideOperation(chained, { topology, records: [r], facts: facts({ operations: { [`${pred}@10`]: false } }) });
    expect(unknown.alerts.map((a) => a.kind)).to.include("unknown-predecessor");
    const known = decideOperation(chained, { topology, records: [r], facts: facts({ operations: { [`${pred}@10`]: true } }) });
    expect(known.review!.verification.checks.find((c) => c.name === "predecessor")).to.include({ ok: true });
  });

  it("an initializer the policy allows is shown decoded and passes; a delegatecall Safe transaction does not schedule as the Safe", () => {
    const init = new Interface(["function initializeV2(uint256 cap)"]).encodeFunctionData("initializeV2", [5n]);
    const vault = { target: A.vault, value: "0", data: upgradeInterface.encodeFunctionData("upgradeToAndCall", [A.vaultV2, init]) };
    const rec = { ...r, operations: [{ ...r.operations[1]!, call: vault }] };
    rec.operationId = hashOperationBatch({ calls: [{ ...vault, value: 0n }], predecessor: ZeroHash, salt: SALT });
    const occ = operationOccurrences(scheduled(rec.operationId, [vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const ok = decideOperation(occ, { topology, records: [rec], facts: facts({ txs: { [TX.schedule]: safeExecuted(scheduleBatchData([vault])) } }) });
    expect(ok.severity, JSON.stringify(ok.alerts)).to.equal("review");
    expect(ok.review!.calls[0]!.description).to.contain("then call **initializeV2(cap=5)** on it");
    const viaDelegate = decideOperation(occ, { topology, records: [rec], facts: facts({ txs: { [TX.schedule]: safeExecuted(scheduleBatchData([vault]), { call: { to: A.attacker, value: "0", data: "0x", operation: 1 } }) } }) });
    expect(viaDelegate.alerts.map((a) => [a.kind, a.check])).to.deep.equal([["not-scheduled-by-safe", "scheduled by the Safe"]]);
    expect(viaDelegate.alerts[0]!.message).to.contain("is a DELEGATECALL");
  });

  it("content hashes ignore the clock: the time left changes, the post does not", () => {
    const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
    const a = decideOperation(occ, { topology, records: [r], facts: facts({ now: 1_000_001 }) });
    const b = decideOperation(occ, { topology, records: [r], facts: facts({ now: 1_002_000 }) });
    expect(a.contentHash).to.equal(b.contentHash);
    expect(renderDecision(a, 1_000_001).markdown).to.contain("(59m 59s left)");
    expect(renderDecision(b, 1_002_000).markdown).to.contain("(26m 40s left)");
  });
});

describe("watch core: governance events outside operations (pure)", () => {
  const ctx = { topology, records: [], facts: facts({ txs: { [TX.other]: { from: A.attacker, to: A.vault } } }) };
  const kinds = (events: ReturnType<typeof event>[]) => decideTransaction(TX.other, events, ctx).map((d) => d.alerts[0]!.kind);

  it("the deployment's own events are not alerts", () => {
    expect(kinds([event("RoleGranted", { role: ROLES.PROPOSER_ROLE, account: A.safe, sender: A.deployer }, { block: 1, tx: TX.other })])).to.deep.equal([]);
    expect(kinds([event("MinDelayChange", { oldDuration: "0", newDuration: "3600" }, { block: 1, tx: TX.other })])).to.deep.equal([]);
    expect(
      kinds([
        event("Upgraded", { implementation: A.vaultV1 }, { block: 2, tx: TX.other, address: A.vault }),
        event("OwnershipTransferred", { previousOwner: ZeroAddress, newOwner: A.timelock }, { block: 2, tx: TX.other, address: A.vault }),
      ]),
    ).to.deep.equal([]);
    expect(
      kinds([
        event("Upgraded", { implementation: A.registryV1 }, { block: 3, tx: TX.other, address: A.registry }),
        event("AdminChanged", { previousAdmin: ZeroAddress, newAdmin: A.registryAdmin }, { block: 3, tx: TX.other, address: A.registry }),
      ]),
    ).to.deep.equal([]);
  });

  it("role, delay, admin and ownership changes are alerts, even through the timelock", () => {
    expect(kinds([event("RoleGranted", { role: ROLES.PROPOSER_ROLE, account: A.attacker, sender: A.timelock }, { block: 5, tx: TX.other })])).to.deep.equal(["role-change"]);
    expect(kinds([event("RoleRevoked", { role: ROLES.CANCELLER_ROLE, account: A.guardian, sender: A.timelock }, { block: 5, tx: TX.other })])).to.deep.equal(["role-change"]);
    expect(kinds([event("MinDelayChange", { oldDuration: "3600", newDuration: "60" }, { block: 5, tx: TX.other })])).to.deep.equal(["delay-change"]);
    expect(kinds([event("AdminChanged", { previousAdmin: A.registryAdmin, newAdmin: A.attacker }, { block: 5, tx: TX.other, address: A.registry })])).to.deep.equal(["admin-change"]);
    expect(kinds([event("OwnershipTransferred", { previousOwner: A.timelock, newOwner: A.attacker }, { block: 5, tx: TX.other, address: A.registryAdmin })])).to.deep.equal(["ownership-change"]);
  });

  it("an upgrade is an alert unless a timelock operation executed exactly that upgrade in the same transaction", () => {
    const upgraded = event("Upgraded", { implementation: A.vaultV2 }, { block: 6, tx: TX.other, address: A.vault });
    expect(kinds([upgraded])).to.deep.equal(["upgrade-outside-timelock"]);
    const executed = event("CallExecuted", { id: id("op"), index: "0", ...calls.vault }, { block: 6, tx: TX.other });
    expect(kinds([executed, upgraded])).to.deep.equal([]);
    // The timelock executed an upgrade of the vault, but to another implementation than the one the proxy now runs.
    const other = event("Upgraded", { implementation: A.attacker }, { block: 6, tx: TX.other, address: A.vault });
    expect(kinds([executed, other])).to.deep.equal(["upgrade-outside-timelock"]);
    // A downgrade to V1 outside the timelock is not mistaken for the deployment.
    expect(kinds([event("Upgraded", { implementation: A.vaultV1 }, { block: 7, tx: TX.other, address: A.vault })])).to.deep.equal(["upgrade-outside-timelock"]);
  });

  it("watches the timelock, the Safe, the proxies and the ProxyAdmins, and decodes raw logs", () => {
    expect(watchedAddresses(topology)).to.deep.equal([A.timelock, A.safe, A.registry, A.registryAdmin, A.vault]);
    const fragment = watchInterface.getEvent("Cancelled")!;
    const opId = id("op");
    const decoded = decodeLog({ address: A.timelock.toLowerCase(), topics: [fragment.topicHash, opId], data: "0x", blockNumber: "0x10", blockHash: id("b"), transactionHash: id("t"), transactionIndex: "0x0", logIndex: "0x3" });
    expect(decoded).to.deep.include({ name: "Cancelled", address: A.timelock, block: 16, logIndex: 3, args: { id: opId } });
    expect(WATCH_TOPICS).to.include(fragment.topicHash);
    expect(decodeLog({ address: A.timelock, topics: [id("Other()")], data: "0x", blockNumber: "0x1", blockHash: id("b"), transactionHash: id("t"), transactionIndex: "0x0", logIndex: "0x0" })).to.equal(undefined);
  });
});

describe("watch adapters (pure)", () => {
  const post: SinkPost = {
    key: `op:${id("op")}:${TX.schedule}`,
    network: "default",
    operationId: id("op"),
    severity: "alert",
    state: "scheduled",
    title: "ALERT (unknown-operation): Queued: upgrade vault to 0xabcd…ef01 (op 0x12345678…)",
    summary: "x".repeat(5000),
    markdown: "## body",
    json: { a: 1 },
    contentHash: "0x0123456789abcdef",
  };

  it("Slack and Discord payloads stay within their limits; JSON carries everything", () => {
    const slack = webhookPayload(post, "slack") as { text: string; blocks: { type: string; text?: { text: string } }[] };
    expect(slack.text.length).to.be.at.most(3000);
    expect(slack.blocks.map((b) => b.type)).to.deep.equal(["header", "section", "context"]);
    expect(slack.blocks[0]!.text!.text.length).to.be.at.most(150);
    const discord = webhookPayload(post, "discord") as { content: string; embeds: { description: string; color: number }[]; allowed_mentions: unknown };
    expect(discord.embeds[0]!.description.length).to.be.at.most(4096);
    expect(discord.embeds[0]!.color).to.equal(0xe01e5a);
    expect(discord.allowed_mentions).to.deep.equal({ parse: [] });
    expect(webhookPayload({ ...post, previousState: "scheduled", state: "executed" }, "json")).to.include({ verb: "Executed", key: post.key, markdown: "## body" });
    expect(webhookPayload({ ...post, previousState: "scheduled" }, "json")).to.include({ verb: "Corrected" });
  });

  it("GitHub issues carry a findable marker, the severity label and the right close reason", () => {
    expect(parseMarker(issueBody(post))).to.deep.equal({ key: post.key, state: "scheduled", contentHash: post.contentHash });
    expect(issueLabels(post, ["gatehouse"])).to.deep.equal(["gatehouse", "alert"]);
    expect([closeReason("executed"), closeReason("cancelled"), closeReason("retracted"), closeReason("scheduled")]).to.deep.equal(["completed", "not_planned", "not_planned", undefined]);
    expect(marker(post)).to.match(/^<!-- gatehouse:key=op:0x[0-9a-f]{64}:0x[0-9a-f]{64} state=scheduled hash=0x0123456789abcdef -->$/);
    expect(fileKey(post.key)).to.equal(`op-${id("op")}-${TX.schedule.slice(2, 10)}`);
  });

  it("recovers the Safe owners behind execTransaction signatures (ECDSA, eth_sign, approved hash)", async () => {
    const hash = id("safe tx");
    const w1 = Wallet.createRandom();
    const w2 = Wallet.createRandom();
    const ecdsa = Signature.from(w1.signingKey.sign(hash)).serialized;
    const ethSign = Signature.from(await w2.signMessage(getBytes(hash)));
    const ethSignBytes = concat([ethSign.r, ethSign.s, toBeHex(ethSign.v + 4, 1)]);
    const approved = concat([zeroPadValue(A.owner1, 32), zeroPadValue("0x00", 32), "0x01"]);
    expect(safeSignatureOwners(hash, hexlify(concat([ecdsa, ethSignBytes, approved])))).to.deep.equal([w1.address, w2.address, A.owner1]);
  });
});

describe("watch RPC: classification and retries", () => {
  it("tells refused ranges, transient failures and fatal errors apart", () => {
    expect(classifyRpcError(new RpcError("eth_getLogs", "query exceeds max block range 2000", { code: -32005 }), "eth_getLogs")).to.equal("range");
    expect(classifyRpcError(new RpcError("eth_getLogs", "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"), "eth_getLogs")).to.equal("range");
    expect(classifyRpcError(new RpcError("eth_getLogs", "query returned more than 10000 results", { code: -32005 }), "eth_getLogs")).to.equal("range");
    expect(classifyRpcError(new RpcError("eth_call", "HTTP 429", { status: 429 }))).to.equal("transient");
    expect(classifyRpcError(new RpcError("eth_call", "HTTP 502", { status: 502 }))).to.equal("transient");
    expect(classifyRpcError(new RpcError("eth_call", "eth_call: timed out after 150 ms"))).to.equal("transient");
    expect(classifyRpcError(new RpcError("eth_call", "internal error", { code: -32603 }))).to.equal("transient");
    expect(classifyRpcError(new RpcError("eth_call", "execution reverted", { code: 3 }))).to.equal("fatal");
    expect(classifyRpcError(new RpcError("eth_getStorageAt", "missing trie node abc", { code: -32000 }))).to.equal("fatal");
  });

  it("retries transient failures with backoff, never retries a refused range, and reports every failure", async () => {
    let n = 0;
    const flaky: Rpc = {
      request: async <T>(method: string) => {
        n++;
        if (method === "eth_getLogs") throw new RpcError(method, "block range is too large", { code: -32005 });
        if (n < 3) throw new RpcError(method, "HTTP 503", { status: 503 });
        return "0x10" as T;
      },
    };
    const waits: number[] = [];
    const seen: string[] = [];
    const rpc = retryingRpc(flaky, { baseDelayMs: 100, sleep: async (ms) => void waits.push(ms), random: () => 1, onError: (m, f) => seen.push(`${m}:${f}`) });
    expect(await rpc.request("eth_blockNumber")).to.equal("0x10");
    expect(waits).to.deep.equal([100, 200]);
    try {
      await rpc.request("eth_getLogs", [{}]);
      expect.fail("a refused range was retried");
    } catch (e) {
      expect((e as Error).message).to.contain("block range is too large");
    }
    expect(seen).to.deep.equal(["eth_blockNumber:transient", "eth_blockNumber:transient", "eth_getLogs:range"]);
  });
});

/** A tiny in-memory chain behind the Rpc interface: headers, logs, a refusal above N blocks, reorgs. */
function fakeChain(opts: { maxRange: number }) {
  const blocks: { hash: string; logs: { topics: string[]; data: string; address: string }[] }[] = [];
  let fork = 0;
  const calls: string[] = [];
  const addBlock = (logs: { topics: string[]; data: string; address: string }[] = []) => blocks.push({ hash: id(`block ${blocks.length} fork ${fork}`), logs });
  const rpc: Rpc = {
    request: async <T>(method: string, params: unknown[] = []) => {
      calls.push(method);
      const hex = (n: number) => "0x" + n.toString(16);
      if (method === "eth_blockNumber") return hex(blocks.length - 1) as T;
      if (method === "eth_getBlockByNumber") {
        const n = params[0] === "latest" ? blocks.length - 1 : Number(params[0]);
        const b = blocks[n];
        return (b ? { number: hex(n), hash: b.hash, parentHash: n > 0 ? blocks[n - 1]!.hash : id("genesis parent"), timestamp: hex(1000 + n) } : null) as T;
      }
      if (method === "eth_getLogs") {
        const f = params[0] as { fromBlock: string; toBlock: string };
        const from = Number(f.fromBlock);
        const to = Number(f.toBlock);
        if (to - from + 1 > opts.maxRange) throw new RpcError(method, `eth_getLogs: block range too large (max ${opts.maxRange})`, { code: -32005 });
        const out: unknown[] = [];
        for (let n = from; n <= to; n++) {
          blocks[n]!.logs.forEach((l, i) => out.push({ ...l, blockNumber: hex(n), blockHash: blocks[n]!.hash, transactionHash: id(`tx ${n} ${fork}`), transactionIndex: "0x0", logIndex: hex(i) }));
        }
        return out as T;
      }
      throw new Error(`fake chain: ${method}`);
    },
  };
  const cancelled = (opId: string) => ({ address: A.timelock, topics: [watchInterface.getEvent("Cancelled")!.topicHash, opId], data: "0x" });
  return {
    rpc,
    calls,
    addBlock,
    cancelled,
    /** Replace every block from `n` on with a new fork of `length` blocks. */
    reorg(n: number, length: number) {
      fork++;
      blocks.length = n;
      for (let i = 0; i < length; i++) addBlock();
    },
  };
}

describe("watch indexer: bounded ranges, confirmations and reorgs (fake chain)", () => {
  const ledgerFile = () => path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-ledger-")), "w.sqlite");
  const base = (chain: ReturnType<typeof fakeChain>, ledger: Ledger, max = 64) => ({
    rpc: chain.rpc,
    ledger,
    addresses: [A.timelock],
    topics: WATCH_TOPICS,
    timelock: A.timelock,
    confirmations: 1,
    range: rangeState(max),
    startBlock: 0,
  });

  it("halves a refused range down to what the node accepts, never skipping a block, and grows back", async () => {
    const chain = fakeChain({ maxRange: 5 });
    for (let i = 0; i < 100; i++) chain.addBlock(i % 10 === 3 ? [chain.cancelled(id(`op ${i}`))] : []);
    const ledger = new Ledger(ledgerFile());
    const refused: number[] = [];
    const o = { ...base(chain, ledger), hooks: { onRangeRefused: ({ size }: { size: number }) => void refused.push(size) } };
    const r = await syncToHead(o);
    expect(r.checkpoint.block).to.equal(99);
    expect(r.events).to.equal(10);
    expect(ledger.eventCount()).to.equal(10);
    expect(refused.slice(0, 4)).to.deep.equal([32, 16, 8, 4]);
    // After a run of successes it tries a larger range again (and is refused again: back to 4).
    expect(refused.length).to.be.greaterThan(4);
    expect(refused.slice(4).every((size) => size === 4)).to.equal(true);
    expect(ledger.dirtyGroups().filter((g) => g.startsWith("op:"))).to.have.length(10);
    ledger.close();
  });

  it("acts only on confirmed blocks", async () => {
    const chain = fakeChain({ maxRange: 1000 });
    for (let i = 0; i < 10; i++) chain.addBlock();
    chain.addBlock([chain.cancelled(id("late"))]);
    const ledger = new Ledger(ledgerFile());
    const r = await syncToHead({ ...base(chain, ledger), confirmations: 3 });
    expect([r.head, r.target, r.checkpoint.block, r.events]).to.deep.equal([10, 8, 8, 0]);
    chain.addBlock();
    chain.addBlock();
    expect((await syncToHead({ ...base(chain, ledger), confirmations: 3 })).events).to.equal(1);
    ledger.close();
  });

  it("rolls back to the common ancestor when the checkpoint leaves the canonical chain, even for a shorter chain", async () => {
    const chain = fakeChain({ maxRange: 1000 });
    for (let i = 0; i < 20; i++) chain.addBlock(i === 15 ? [chain.cancelled(id("dropped"))] : []);
    const ledger = new Ledger(ledgerFile());
    await syncToHead({ ...base(chain, ledger, 4) });
    for (const g of ledger.dirtyGroups()) ledger.clearDirty(g);
    expect(ledger.eventCount()).to.equal(1);
    chain.reorg(14, 3); // blocks 14..16 replaced: the chain is now shorter than the checkpoint (19)
    const reorgs: { ancestor: number; groups: string[] }[] = [];
    const r = await syncToHead({ ...base(chain, ledger, 4), hooks: { onReorg: (x) => void reorgs.push(x) } });
    expect(r.reorgs).to.equal(1);
    expect(reorgs[0]!.ancestor).to.equal(11);
    expect(reorgs[0]!.groups).to.include(`op:${id("dropped")}`);
    expect(ledger.eventCount()).to.equal(0);
    expect(ledger.dirtyGroups()).to.include(`op:${id("dropped")}`);
    expect(r.checkpoint.block).to.equal(16);
    ledger.close();
  });
});
