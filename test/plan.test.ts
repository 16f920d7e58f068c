import { expect } from "chai";
import { ZeroHash, getAddress, Wallet } from "ethers";
import { deriveSalt, planUpgrade, proposalId, upgradeCall, type ProxyChange } from "../src/plan/plan.ts";
import { decodeUpgradeCall, hashOperationBatch } from "../src/timelock/calls.ts";
import { bytecodeHash, maskImmutables, runtimeMatches } from "../src/plan/bytecode.ts";

const addr = () => getAddress(Wallet.createRandom().address);
const TIMELOCK = addr();

function change(name: string, kind: "uups" | "transparent"): ProxyChange {
  return { name, kind, proxy: addr(), proxyAdmin: kind === "transparent" ? addr() : undefined, contract: `${name}V2`, oldContract: `${name}V1`, oldImplementation: addr(), newImplementation: addr(), initializer: "0x" };
}

describe("plan (pure): desired state → timelock batch, salt, operation id, rollback", () => {
  const a = change("vault", "uups");
  const b = change("registry", "transparent");

  it("targets the proxy for UUPS and the ProxyAdmin for Transparent", () => {
    const plan = planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [a, b], delay: 3600n });
    const byName = Object.fromEntries(plan.operations.map((o) => [o.name, o]));
    expect(byName.vault!.call.target).to.equal(a.proxy);
    expect(decodeUpgradeCall(byName.vault!.call)).to.deep.equal({ kind: "uups", proxy: a.proxy, implementation: a.newImplementation, initializer: "0x" });
    expect(byName.registry!.call.target).to.equal(b.proxyAdmin);
    expect(decodeUpgradeCall(byName.registry!.call)).to.deep.equal({ kind: "transparent", proxy: b.proxy, implementation: b.newImplementation, initializer: "0x" });
  });

  it("maps the same change to the same operation id, whatever the order it is given in", () => {
    const p1 = planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [a, b], delay: 3600n });
    const p2 = planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [b, a], delay: 3600n });
    expect(p2.operationId).to.equal(p1.operationId);
    expect(p1.operationId).to.equal(hashOperationBatch(p1.batch));
    expect(p1.batch.predecessor).to.equal(ZeroHash);
    expect(proposalId(p1.operationId)).to.equal(p1.operationId.slice(2, 14));
  });

  it("gives a different salt for a different change, chain, timelock or round", () => {
    const base = planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [a], delay: 3600n });
    const salts = [
      base.batch.salt,
      planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [{ ...a, newImplementation: addr() }], delay: 3600n }).batch.salt,
      planUpgrade({ chainId: 1n, timelock: TIMELOCK, changes: [a], delay: 3600n }).batch.salt,
      planUpgrade({ chainId: 31337n, timelock: addr(), changes: [a], delay: 3600n }).batch.salt,
      planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [a], delay: 3600n, round: 1 }).batch.salt,
    ];
    expect(new Set(salts).size).to.equal(salts.length);
    expect(deriveSalt(31337n, TIMELOCK, base.batch.calls, 0)).to.equal(base.batch.salt);
  });

  it("plans the rollback as the same proxies back to their old implementations", () => {
    const plan = planUpgrade({ chainId: 31337n, timelock: TIMELOCK, changes: [a, b], delay: 3600n });
    for (const op of plan.rollback.operations) {
      const original = [a, b].find((c) => c.name === op.name)!;
      expect(decodeUpgradeCall(op.call)!.implementation).to.equal(original.oldImplementation);
      expect(op.call).to.deep.equal(upgradeCall(original, original.oldImplementation, "0x"));
    }
    expect(plan.rollback.operationId).to.not.equal(plan.operationId);
  });

  it("refuses an empty plan and a Transparent change without its ProxyAdmin", () => {
    expect(() => planUpgrade({ chainId: 1n, timelock: TIMELOCK, changes: [], delay: 0n })).to.throw(/at least one change/);
    expect(() => upgradeCall({ kind: "transparent", proxy: addr() }, addr(), "0x")).to.throw(/no ProxyAdmin/);
  });
});

describe("bytecode comparison (pure)", () => {
  const artifact = { contractName: "X", sourceName: "contracts/X.sol", deployedBytecode: "0x6001600255" + "00".repeat(32) + "fe", immutableReferences: { "7": [{ start: 5, length: 32 }] } };
  it("matches on-chain code whose only difference is a filled-in immutable", () => {
    const onchain = "0x6001600255" + "ab".repeat(32) + "fe";
    expect(runtimeMatches(onchain, artifact)).to.equal(true);
    expect(bytecodeHash(onchain, artifact.immutableReferences)).to.equal(bytecodeHash(artifact.deployedBytecode, artifact.immutableReferences));
    expect(maskImmutables(onchain, artifact.immutableReferences)).to.equal(artifact.deployedBytecode);
  });
  it("does not match code that differs outside the immutables", () => {
    expect(runtimeMatches("0x6001600355" + "ab".repeat(32) + "fe", artifact)).to.equal(false);
    expect(runtimeMatches("0x6001600255" + "ab".repeat(32), artifact)).to.equal(false);
  });
});
