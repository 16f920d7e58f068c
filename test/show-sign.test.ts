import { expect } from "chai";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TypedDataEncoder, ZeroAddress, ZeroHash, getAddress } from "ethers";
import { encodeScheduleBatch, upgradeInterface } from "../src/timelock/calls.ts";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { execute } from "../src/pipeline/execute.ts";
import { exportTypedData, submitSignature } from "../src/pipeline/sign.ts";
import { addressLabels, show } from "../src/pipeline/show.ts";
import { renderChecks } from "../src/pipeline/verify.ts";
import { inspectSafeTx, renderSignerView, type SafeTypedData } from "../src/safe/inspect.ts";
import { safeCall, safeTxHashes } from "../src/safe/hash.ts";
import { GatehouseError } from "../src/errors.ts";
import { readProposalFile, resolveProposal } from "../src/records/proposal.ts";

/** The signer's own view of what they sign, and signatures made with a key Gatehouse never holds. */
describe("show and signing elsewhere: typed data out, a wallet's signature in", function () {
  const timelock = getAddress("0x00000000000000000000000000000000000000a1");
  const safe = getAddress("0x00000000000000000000000000000000000000a2");

  it("recomputes the three hashes from the fields and warns about everything Gatehouse never builds (pure)", () => {
    const proxy = getAddress("0x00000000000000000000000000000000000000a3");
    const upgrade = upgradeInterface.encodeFunctionData("upgradeToAndCall", [getAddress("0x00000000000000000000000000000000000000a4"), "0x"]);
    const tx = safeCall(timelock, encodeScheduleBatch({ calls: [{ target: proxy, value: 0n, data: upgrade }], predecessor: ZeroHash, salt: ZeroHash }, 3600n), 7);
    const clean = inspectSafeTx({ chainId: 31337n, safe, tx, timelock, labels: { [proxy]: "vault proxy" } });
    expect(clean.warnings).to.deep.equal([]);
    expect(clean.innerCalls[0]).to.deep.include({ targetLabel: "vault proxy", function: "upgradeToAndCall(address,bytes)" });
    const h = safeTxHashes(31337n, safe, tx);
    expect([clean.safeTxHash, clean.domainHash, clean.messageHash]).to.deep.equal([h.safeTxHash, h.domainHash, h.messageHash]);
    // The typed data as a wallet hashes it (EIP712Domain is implied by ethers' domain argument).
    const { EIP712Domain: _d, ...types } = clean.typedData.types;
    expect(TypedDataEncoder.hash(clean.typedData.domain, types, clean.typedData.message)).to.equal(h.safeTxHash);
    expect(clean.operation.name).to.equal("CALL");

    const evil = inspectSafeTx({
      chainId: 31337n,
      safe,
      tx: { ...tx, to: "0x00000000000000000000000000000000000000e1", operation: 1, gasPrice: "1", refundReceiver: "0x00000000000000000000000000000000000000e2" },
      timelock,
      expectedSafe: getAddress("0x00000000000000000000000000000000000000a9"),
      claimed: { safeTxHash: h.safeTxHash, source: "the service" },
    });
    const text = evil.warnings.join("\n");
    expect(text).to.contain("DELEGATECALL");
    expect(text).to.contain(`not the deployment's Safe 0x00000000000000000000000000000000000000A9`);
    expect(text.toLowerCase()).to.contain("to is 0x00000000000000000000000000000000000000e1");
    expect(text).to.contain("gasPrice is 1");
    expect(text).to.contain("refundReceiver is 0x00000000000000000000000000000000000000e2");
    expect(text).to.contain(`the service claims safeTxHash ${h.safeTxHash}, but the fields hash to ${evil.safeTxHash}`);
    expect(renderSignerView(evil)).to.contain("operation       1 (DELEGATECALL)");
  });

  it("red team: record text and decoded calldata cannot hide the warnings with terminal escapes or fake lines", () => {
    // A record's proxy name becomes a label; calldata strings are decoded. Both are the attacker's.
    const proxy = getAddress("0x00000000000000000000000000000000000000a3");
    const grant = "0x2f2ff15d" + "b09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1".padStart(64, "0") + "00000000000000000000000000000000000000000000000000000000000000e1".padStart(64, "0");
    const tx = safeCall(timelock, encodeScheduleBatch({ calls: [{ target: proxy, value: 0n, data: grant }], predecessor: ZeroHash, salt: ZeroHash }, 3600n), 7);
    const v = inspectSafeTx({ chainId: 31337n, safe, tx, timelock, labels: { [proxy]: "vault proxy)\u001b[8m\nNo warnings: one plain call" } });
    expect(v.warnings.join("\n")).to.contain("not an upgrade");
    const text = renderSignerView(v);
    expect(text).to.not.match(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(text.split("\n").filter((l) => l.startsWith("No warnings"))).to.deep.equal([]);
    expect(text).to.contain("WARNINGS (1):");
    // verify's lines carry record names too.
    expect(renderChecks([{ name: "calldata of 'vault\u001b[8m'", ok: false, detail: "x" }])).to.equal("FAIL      calldata of 'vault?[8m': x");
    // ProxyAdmin labels come from the deployment record, not from a proposal's operations.
    const labels = addressLabels({ deployment: { timelock: { address: timelock }, safe: { address: safe }, proxies: { registry: { address: proxy, proxyAdmin: getAddress("0x00000000000000000000000000000000000000b1") } } } } as never);
    expect(labels).to.deep.equal({ [timelock]: "the timelock", [safe]: "the Safe", [proxy]: "registry proxy", [getAddress("0x00000000000000000000000000000000000000b1")]: "registry ProxyAdmin" });
  });

  describe("on a real Safe and timelock", function () {
    // stage builds the commit once (cached per commit afterwards).
    this.timeout(600_000);
    let d: Deployed;
    let dir: string;
    let safeTxHash: string;
    let id: string;
    before(async () => {
      d = await deployed();
      dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-typed-"));
      const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
      id = staged.proposal!.record.id;
      safeTxHash = (await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] })).safeTx.safeTxHash;
    });
    after(async () => {
      await d?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("show: the proposal's schedule transaction, its inner upgrade calls by name, and no warning", async () => {
      for (const ref of [safeTxHash, id]) {
        const r = await show(d.setup, ref);
        expect(r.transactions).to.have.length(1);
        const v = r.transactions[0]!.view;
        expect(v.safeTxHash).to.equal(safeTxHash);
        expect(v.to).to.equal(d.setup.deployment.timelock.address);
        expect(v.toLabel).to.equal("the timelock");
        expect(v.call.function).to.match(/^scheduleBatch\(/);
        expect(v.innerCalls.map((c) => c.function?.split("(")[0]).sort()).to.deep.equal(["upgradeAndCall", "upgradeToAndCall"]);
        expect(v.innerCalls.find((c) => c.function?.startsWith("upgradeToAndCall"))!.targetLabel).to.equal("vault proxy");
        expect(v.warnings).to.deep.equal([]);
      }
    });

    it("a non-owner's signature, or an owner's over other data, is refused with exit 1 and the recovered address", async () => {
      const file = path.join(dir, "typed.json");
      await exportTypedData({ setup: d.setup, safeTxHash, file });
      const td = JSON.parse(readFileSync(file, "utf8")) as SafeTypedData;
      const types = { SafeTx: td.types.SafeTx };
      const byOutsider = await d.actors.outsider.signer.signTypedData(td.domain, types, td.message);
      const otherData = await d.actors.owners[1].signer.signTypedData(td.domain, types, { ...td.message, nonce: Number(td.message.nonce) + 1 });
      for (const [signature, who] of [
        [byOutsider, d.actors.outsider.address],
        [otherData, undefined],
      ] as const) {
        try {
          await submitSignature({ setup: d.setup, safeTxHash, signature });
          expect.fail("accepted");
        } catch (e) {
          expect(e).to.be.instanceOf(GatehouseError);
          const err = e as GatehouseError;
          expect(err.errorName).to.equal("SIGNATURE_NOT_OWNER");
          expect(err.exitCode).to.equal(1);
          const recovered = /recovers to (0x[0-9a-fA-F]{40})/.exec(err.message)![1]!;
          if (who) expect(recovered).to.equal(who);
          else expect(d.actors.owners.map((o) => o.address)).to.not.include(recovered);
        }
      }
      const rec = resolveProposal(d.setup.root, "default", id);
      expect(readProposalFile(rec.file).safeTransactions[0]!.signatures).to.equal(undefined);
    });

    it("an owner's signature made by ethers from the exported typed data is accepted once and counted by execute", async () => {
      const file = path.join(dir, "typed.json");
      const exported = await exportTypedData({ setup: d.setup, safeTxHash, file });
      expect(exported.checks.every((c) => c.ok)).to.equal(true);
      // Stands in for a hardware wallet: it sees only the file.
      const td = JSON.parse(readFileSync(file, "utf8")) as SafeTypedData;
      expect(td.domain.verifyingContract).to.equal(d.setup.deployment.safe.address);
      expect(td.message.refundReceiver).to.equal(ZeroAddress);
      const signature = await d.actors.owners[2].signer.signTypedData(td.domain, { SafeTx: td.types.SafeTx }, td.message);

      const r = await submitSignature({ setup: d.setup, safeTxHash, signature });
      expect(r.owner).to.equal(d.actors.owners[2].address);
      expect(r.addedNow).to.equal(true);
      expect(r.approvals).to.have.members([d.actors.owners[0].address, d.actors.owners[2].address]);
      const again = await submitSignature({ setup: d.setup, safeTxHash, signature });
      expect(again.addedNow).to.equal(false);
      expect(readProposalFile(resolveProposal(d.setup.root, "default", id).file).safeTransactions[0]!.signatures).to.have.length(1);

      const scheduled = await execute({ setup: d.setup, proposal: id, executor: d.actors.outsider });
      expect(scheduled.step).to.equal("scheduled");
    });
  });
});
