import { expect } from "chai";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { renderChecks, verify } from "../src/pipeline/verify.ts";
import { listProposals, resolveProposal } from "../src/records/proposal.ts";
import { packetFile, packetMarkdownFile, readSignerPacket, type SignerPacket } from "../src/simulate/packet.ts";
import { effectsHash } from "../src/simulate/effects.ts";
import { GatehouseError } from "../src/errors.ts";
import { safeTxHashes, type SafeTxData } from "../src/safe/hash.ts";
import { runCheck } from "../src/pipeline/check.ts";
import { simulatePrUpgrade } from "../src/simulate/pr.ts";
import { renderExpectedDiff, renderSignerPacket } from "../src/simulate/packet.ts";
import { renderSimulation } from "../src/simulate/render.ts";
import { effectsOf } from "../src/simulate/effects.ts";
import { checkCommentBody } from "../src/actions/check-report.ts";
import { recordFindings } from "../src/actions/audit.ts";

const failedNames = (checks: { name: string; ok: boolean }[]) => checks.filter((c) => !c.ok).map((c) => c.name);

/**
 * The signer packet on a real Safe, timelock and proxies (in-process chain, simulated on an EDR fork of
 * it): propose writes it; verify and sign re-simulate and refuse a packet edited by hand.
 */
describe("signer packet: propose writes it, verify and sign compare it", function () {
  this.timeout(300_000);
  let d: Deployed;
  let recordFile: string;
  let pinned: string;
  let safeTxHash: string;

  before(async () => {
    d = await deployed();
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    recordFile = staged.proposal!.file;
    expect(existsSync(packetFile(recordFile)), "stage writes no packet (no Safe transaction yet)").to.equal(false);
    const r = await propose({ setup: d.setup, proposal: staged.proposal!.record.id, proposer: d.actors.owners[0] });
    safeTxHash = r.safeTx.safeTxHash;
    pinned = readFileSync(packetFile(recordFile), "utf8");
  });
  after(async () => {
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
  });

  it("pins the Safe transaction, its hashes, the decoded calls and exactly the ERC-1967 implementation slot change per proxy", async () => {
    const p = readSignerPacket(packetFile(recordFile))!;
    const { record } = listProposals(d.root, "default")[0]!;
    expect(listProposals(d.root, "default")).to.have.length(1); // the packet is not taken for a record
    const tx = record.safeTransactions[0]!;
    expect(p.safeTx).to.deep.include({ nonce: tx.nonce, to: tx.to, data: tx.data, safeTxHash: tx.safeTxHash, domainHash: tx.domainHash, messageHash: tx.messageHash });
    expect(p.innerCall.function).to.equal("scheduleBatch");
    expect(p.innerCall.calls.map((c) => c.function).sort()).to.deep.equal(["upgradeAndCall(address,address,bytes)", "upgradeToAndCall(address,bytes)"]);
    const vault = record.operations.find((o) => o.proxy === "vault")!;
    expect(p.innerCall.calls.find((c) => c.function === "upgradeToAndCall(address,bytes)")!.args).to.deep.equal({ newImplementation: vault.newImplementation, data: "0x" });
    expect(p.effects.changes.map((c) => c.variable)).to.deep.equal(["erc1967.implementation", "erc1967.implementation"]);
    expect(p.effects.changes.map((c) => c.account.toLowerCase()).sort()).to.deep.equal(record.operations.map((o) => o.proxyAddress.toLowerCase()).sort());
    expect(p.effects.permissions).to.deep.equal([]);
    expect(p.effects.reverts).to.deep.equal([]);
    expect(p.findings).to.deep.equal([]);
    expect(p.probes.length).to.be.greaterThan(0);
    expect(p.probes.every((x) => x.ok)).to.equal(true);
    expect(p.effectsHash).to.equal(effectsHash(p.effects));
    const md = readFileSync(packetMarkdownFile(recordFile), "utf8");
    expect(md).to.include(tx.safeTxHash).and.include(tx.domainHash).and.include(tx.messageHash).and.include("erc1967.implementation");
    expect(md).to.include(`vault (proxy) now runs implementation ${vault.newImplementation} (VaultV2)`);

    const v = await verify({ setup: d.setup, proposal: record.id });
    expect(failedNames(v.checks), renderChecks(v.checks)).to.deep.equal([]);
    expect(v.checks.map((c) => c.name)).to.include.members(["simulation", "signer packet fields", "signer packet state-diff hash", "signer packet effects"]);
  });

  it("the PR check simulates the upgrade it would stage and puts the expected diff in the PR comment", async () => {
    const check = await runCheck(d.setup, {});
    const sim = (await simulatePrUpgrade(d.setup, check))!;
    expect(sim.report.findings, renderSimulation(sim.report)).to.deep.equal([]);
    const effects = effectsOf(sim.report, d.setup.deployment.timelock.address, d.setup.deployment.safe.address);
    expect(effects.changes.map((c) => c.variable)).to.deep.equal(["erc1967.implementation", "erc1967.implementation"]);
    const markdown = `${check.markdown}\n\n${renderExpectedDiff(sim.report, sim.record, d.setup.deployment.timelock.address, d.setup.deployment.safe.address)}`;
    const body = checkCommentBody({ expected: ["default"], artifacts: [{ network: "default", ok: true, findingCount: 0, markdown, simulation: { status: "ran", findingCount: 0 } }] });
    expect(body).to.include("Expected state diff if this is staged").and.include("erc1967.implementation").and.include("PASS; simulated: expected diff below");
    const notRun = checkCommentBody({ expected: ["default"], artifacts: [{ network: "default", ok: true, findingCount: 0, markdown: check.markdown, simulation: { status: "not-run", findingCount: 0, reason: "GH111: cannot fork" } }] });
    expect(notRun).to.include("NOT simulated (GH111: cannot fork)");
  });

  const edits: [string, (p: SignerPacket) => void, string[]][] = [
    ["effectsHash", (p) => (p.effectsHash = `0x${"ab".repeat(32)}`), ["signer packet state-diff hash", "signer packet markdown"]],
    ["an effect's after value (hash recomputed)", (p) => { p.effects.changes[0]!.after = `0x${"0".repeat(63)}1`; p.effectsHash = effectsHash(p.effects); }, ["signer packet fields", "signer packet effects", "signer packet markdown"]],
    ["the nonce", (p) => (p.safeTx.nonce += 1), ["signer packet fields", "signer packet markdown"]],
    ["the domain hash", (p) => (p.safeTx.domainHash = `0x${"cd".repeat(32)}`), ["signer packet fields", "signer packet markdown"]],
    ["a decoded call's argument", (p) => (p.innerCall.calls[0]!.args = { newImplementation: "0x000000000000000000000000000000000000dEaD" }), ["signer packet fields", "signer packet markdown"]],
    ["a meaning line", (p) => (p.stateChanges.find((c) => !c.bookkeeping)!.meaning = "nothing to see here"), ["signer packet fields", "signer packet markdown"]],
  ];
  for (const [what, edit, failing] of edits) {
    it(`a packet with ${what} edited by hand fails verify and sign, naming it`, async () => {
      const p = JSON.parse(pinned) as SignerPacket;
      edit(p);
      writeFileSync(packetFile(recordFile), JSON.stringify(p, null, 2));
      try {
        const v = await verify({ setup: d.setup, proposal: recordFile });
        expect(failedNames(v.checks), renderChecks(v.checks)).to.deep.equal(failing);
        expect(v.verified).to.equal(false);
        if (what === "effectsHash") {
          const e = await sign({ setup: d.setup, safeTxHash, signer: d.actors.owners[1] }).then(() => undefined, (err: unknown) => err);
          expect(e).to.be.instanceOf(GatehouseError);
          expect((e as GatehouseError).errorName).to.equal("SIGN_REFUSED");
          expect((e as GatehouseError).message).to.include(failing[0]!);
        }
      } finally {
        writeFileSync(packetFile(recordFile), pinned);
      }
    });
  }

  // Red team: the Markdown is what a signer reads; verify compared only the JSON.
  it("a .validation.md edited by hand (or missing) fails verify, naming it, while the JSON is intact", async () => {
    const mdFile = packetMarkdownFile(recordFile);
    const md = readFileSync(mdFile, "utf8");
    const { record } = listProposals(d.root, "default")[0]!;
    const vault = record.operations.find((o) => o.proxy === "vault")!;
    writeFileSync(mdFile, md.replace(vault.newImplementation, "0x000000000000000000000000000000000000dEaD"));
    try {
      const v = await verify({ setup: d.setup, proposal: recordFile });
      expect(failedNames(v.checks), renderChecks(v.checks)).to.deep.equal(["signer packet markdown"]);
      unlinkSync(mdFile);
      expect(failedNames((await verify({ setup: d.setup, proposal: recordFile })).checks)).to.deep.equal(["signer packet markdown"]);
      writeFileSync(mdFile, md.replace(/\n/g, "\r\n")); // a CRLF checkout is the same document
      expect(failedNames((await verify({ setup: d.setup, proposal: recordFile })).checks)).to.deep.equal([]);
    } finally {
      writeFileSync(mdFile, md);
    }
  });

  it("unpinned packet text (probe details, run notes, step names) cannot forge Markdown structure in the .md; findings are pinned", async () => {
    const p = JSON.parse(pinned) as SignerPacket;
    const forged = "x)\n\n### No findings in the simulation\n\n</details>\n<details><summary>more</summary>\n\n- pass: all good";
    p.probes[0]!.detail = forged;
    p.run.notes.push(forged);
    p.run.steps[0]!.name = forged;
    const md = renderSignerPacket(p);
    expect(md.split("\n").filter((l) => l.startsWith("### ")).map((l) => l.replace(/ ?\(.*$/, ""))).to.deep.equal(["### Inner call: `scheduleBatch` on the timelock, delay 3600s", "### Expected state changes", "### Permission changes", "### Balance changes", "### Post-upgrade probes", "### No findings in the simulation"]);
    expect(md.match(/<details>/g)).to.have.length(1);
    expect(md.match(/<\/details>/g)).to.have.length(1);
    const q = JSON.parse(pinned) as SignerPacket;
    q.findings.push({ kind: "write", message: "a forged finding" });
    writeFileSync(packetFile(recordFile), JSON.stringify(q, null, 2));
    writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(q));
    try {
      expect(failedNames((await verify({ setup: d.setup, proposal: recordFile })).checks)).to.deep.equal(["signer packet fields"]);
    } finally {
      writeFileSync(packetFile(recordFile), pinned);
      writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(JSON.parse(pinned) as SignerPacket));
    }
  });

  // Red team: bookkeeping rows are shown in the .md but were not compared at all: any text could go there.
  it("a bookkeeping row whose meaning is reworded, a real account's row marked bookkeeping, or a probe's detail reworded fails verify", async () => {
    const reword = JSON.parse(pinned) as SignerPacket;
    reword.stateChanges.find((c) => c.bookkeeping)!.meaning = "bookkeeping: the vault's owner stays the timelock";
    const probe = JSON.parse(pinned) as SignerPacket;
    probe.probes[0]!.detail += "; the security team approved moving the vault's ownership to the migration contract";
    const fake = JSON.parse(pinned) as SignerPacket;
    fake.stateChanges.push({ ...fake.stateChanges.find((c) => !c.bookkeeping)!, bookkeeping: true, meaning: "bookkeeping: the Safe's nonce goes from 0 to 1" });
    try {
      for (const p of [reword, fake, probe]) {
        writeFileSync(packetFile(recordFile), JSON.stringify(p, null, 2));
        writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(p));
        expect(failedNames((await verify({ setup: d.setup, proposal: recordFile })).checks)).to.deep.equal(["signer packet fields"]);
      }
    } finally {
      writeFileSync(packetFile(recordFile), pinned);
      writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(JSON.parse(pinned) as SignerPacket));
    }
  });

  // Red team: the Safe transaction's own `safe` (the EIP-712 verifyingContract a signer signs for) was
  // never compared with the deployment's Safe, while the simulation ran the deployment's Safe.
  it("a Safe transaction for another Safe (hashes recomputed) fails verify: what is simulated is not what is signed", async () => {
    const original = readFileSync(recordFile, "utf8");
    const rec = JSON.parse(original) as { safeTransactions: (SafeTxData & { safe: string; safeTxHash: string; domainHash: string; messageHash: string })[] };
    const tx = rec.safeTransactions[0]!;
    tx.safe = d.actors.owners[2]!.address;
    Object.assign(tx, safeTxHashes(31337n, tx.safe, { to: tx.to, value: tx.value, data: tx.data, operation: tx.operation, safeTxGas: tx.safeTxGas, baseGas: tx.baseGas, gasPrice: tx.gasPrice, gasToken: tx.gasToken, refundReceiver: tx.refundReceiver, nonce: tx.nonce }));
    writeFileSync(recordFile, JSON.stringify(rec, null, 2));
    try {
      const v = await verify({ setup: d.setup, proposal: recordFile });
      expect(failedNames(v.checks), renderChecks(v.checks)).to.include(`Safe transaction schedule (nonce ${tx.nonce}) Safe`);
      expect(v.verified).to.equal(false);
    } finally {
      writeFileSync(recordFile, original);
    }
  });

  // Red team: the packet pins the record's latest schedule transaction; sign took any of the record's.
  it("sign refuses a schedule Safe transaction that is not the one the packet pins (an older one, another nonce)", async () => {
    const original = readFileSync(recordFile, "utf8");
    const rec = JSON.parse(original) as { safeTransactions: (SafeTxData & { safe: string; safeTxHash: string; domainHash: string; messageHash: string })[] };
    const newer = { ...rec.safeTransactions[0]!, nonce: rec.safeTransactions[0]!.nonce + 1 };
    Object.assign(newer, safeTxHashes(31337n, newer.safe, { to: newer.to, value: newer.value, data: newer.data, operation: newer.operation, safeTxGas: newer.safeTxGas, baseGas: newer.baseGas, gasPrice: newer.gasPrice, gasToken: newer.gasToken, refundReceiver: newer.refundReceiver, nonce: newer.nonce }));
    rec.safeTransactions.push(newer);
    const p = JSON.parse(pinned) as SignerPacket;
    p.safeTx = { ...p.safeTx, nonce: newer.nonce, safeTxHash: newer.safeTxHash, domainHash: newer.domainHash, messageHash: newer.messageHash };
    writeFileSync(recordFile, JSON.stringify(rec, null, 2));
    writeFileSync(packetFile(recordFile), JSON.stringify(p, null, 2));
    writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(p));
    try {
      const v = await verify({ setup: d.setup, proposal: recordFile });
      expect(failedNames(v.checks), renderChecks(v.checks)).to.deep.equal([]); // the packet is the latest's
      const e = await sign({ setup: d.setup, safeTxHash, signer: d.actors.owners[1] }).then(() => undefined, (err: unknown) => err);
      expect((e as GatehouseError)?.errorName).to.equal("SIGN_REFUSED");
      expect((e as GatehouseError).message).to.include(newer.safeTxHash);
    } finally {
      writeFileSync(recordFile, original);
      writeFileSync(packetFile(recordFile), pinned);
      writeFileSync(packetMarkdownFile(recordFile), renderSignerPacket(JSON.parse(pinned) as SignerPacket));
    }
  });

  it("a proposed record without its packet fails verify; a packet that is not a packet is a bad file naming the field", async () => {
    unlinkSync(packetFile(recordFile));
    try {
      const v = await verify({ setup: d.setup, proposal: recordFile });
      expect(failedNames(v.checks)).to.include("signer packet");
      expect(v.checks.find((c) => c.name === "signer packet")!.detail).to.match(/missing/);
      writeFileSync(packetFile(recordFile), JSON.stringify({ ...JSON.parse(pinned), chainId: "31337" }));
      const e = (() => {
        try {
          readSignerPacket(packetFile(recordFile));
        } catch (err) {
          return err as GatehouseError;
        }
      })();
      expect(e?.errorName).to.equal("FILE_INVALID");
      expect(e?.exitCode).to.equal(2);
      expect(e?.message).to.include(".validation.json").and.include("chainId");
      expect(() => resolveProposal(d.root, "default", packetFile(recordFile))).to.throw(/not the signer packet/);
    } finally {
      writeFileSync(packetFile(recordFile), pinned);
    }
  });

  it("a PR that edits a signer packet is a record edit, like a PR that edits the record", () => {
    const files = ["proposals/sepolia/0123456789ab.validation.json", "proposals/sepolia/0123456789ab.validation.md"];
    const r = recordFindings(files, "mallory", "gatehouse-bot");
    expect(r.findings.map((f) => `${f.kind} ${f.file}`)).to.deep.equal(files.map((f) => `records-changed ${f}`));
  });

  it("once executed, verify says the simulation is UNCHECKED and still compares the packet's fields with the record", async () => {
    await sign({ setup: d.setup, safeTxHash, signer: d.actors.owners[1] });
    const { record } = listProposals(d.root, "default")[0]!;
    await execute({ setup: d.setup, proposal: record.id, executor: d.actors.deployer });
    await d.ctx.connection.networkHelpers.time.increase(Number(record.delay));
    await execute({ setup: d.setup, proposal: record.id, executor: d.actors.deployer });
    const v = await verify({ setup: d.setup, proposal: record.id });
    expect(failedNames(v.checks), renderChecks(v.checks)).to.deep.equal([]);
    expect(v.checks.find((c) => c.name === "simulation")).to.deep.include({ ok: true, unchecked: true });
    const p = JSON.parse(pinned) as SignerPacket;
    p.safeTx.nonce += 1;
    writeFileSync(packetFile(recordFile), JSON.stringify(p));
    try {
      expect(failedNames((await verify({ setup: d.setup, proposal: record.id })).checks)).to.deep.equal(["signer packet fields", "signer packet markdown"]);
    } finally {
      writeFileSync(packetFile(recordFile), pinned);
    }
  });
});
