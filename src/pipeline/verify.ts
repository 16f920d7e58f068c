import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getAddress } from "ethers";
import { GatehouseError } from "../errors.ts";
import { deriveSalt, upgradeCall } from "../plan/plan.ts";
import { runtimeMatches, type RuntimeArtifact } from "../plan/bytecode.ts";
import { resolveProposal, type ProposalRecord } from "../records/proposal.ts";
import { safeCall, safeTxHashes } from "../safe/hash.ts";
import { safeTxData } from "../safe/transactions.ts";
import { decodeSchedule, decodeUpgradeCall, encodeCancel, hashOperationBatch } from "../timelock/calls.ts";
import { batchOf } from "./verify-record.ts";
import type { Setup } from "./setup.ts";

/**
 * `gatehouse verify <proposal|operationId>`: recompute everything a signer must trust, without trusting
 * the record: the calldata from the operations in words, the salt and operation id, every Safe
 * transaction's three hashes and decoded inner call, and that each new implementation's on-chain
 * bytecode is the build of its contract at the proposal's commit.
 */
export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export function verifyRecord(record: ProposalRecord): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  for (const op of record.operations) {
    const expected = upgradeCall({ kind: op.kind, proxy: op.proxyAddress, proxyAdmin: op.proxyAdmin }, op.newImplementation, op.initializer);
    const ok = expected.target === getAddress(op.call.target) && expected.data === op.call.data && op.call.value === "0";
    const decoded = decodeUpgradeCall({ target: op.call.target, value: BigInt(op.call.value), data: op.call.data });
    check(`calldata of '${op.proxy}'`, ok, ok ? `${op.kind} upgrade of ${op.proxyAddress} to ${op.newImplementation}` : `the call does not upgrade ${op.proxyAddress} to ${op.newImplementation} (it decodes to ${decoded ? `${decoded.proxy} -> ${decoded.implementation}` : "something else"})`);
  }
  const batch = batchOf(record);
  const salt = deriveSalt(BigInt(record.chainId), record.timelock, batch.calls, record.round);
  check("salt", salt === record.salt, salt === record.salt ? `derived from the content (round ${record.round})` : `recomputed ${salt}, the record says ${record.salt}`);
  const operationId = hashOperationBatch(batch);
  check("operation id", operationId === record.operationId, operationId === record.operationId ? operationId : `recomputed ${operationId}, the record says ${record.operationId}`);
  if (record.cancel) {
    const ok = record.cancel.calldata === encodeCancel(record.operationId) && getAddress(record.cancel.target) === getAddress(record.timelock);
    check("cancel path", ok, ok ? `cancel(${record.operationId.slice(0, 10)}…) on the timelock` : `the recorded cancel call does not cancel ${record.operationId} on ${record.timelock}`);
    const g = record.cancel.guardianSafeTx;
    if (g) {
      const hashes = safeTxHashes(BigInt(record.chainId), g.safe, safeCall(record.timelock, record.cancel.calldata, g.nonce));
      const same = hashes.safeTxHash === g.safeTxHash && hashes.domainHash === g.domainHash && hashes.messageHash === g.messageHash;
      check("guardian Safe cancel hashes", same, same ? `safeTxHash ${g.safeTxHash} at nonce ${g.nonce}` : `recomputed safeTxHash ${hashes.safeTxHash}`);
    }
  }
  for (const tx of record.safeTransactions) {
    const hashes = safeTxHashes(BigInt(record.chainId), tx.safe, safeTxData(tx));
    const hashesOk = hashes.safeTxHash === tx.safeTxHash && hashes.domainHash === tx.domainHash && hashes.messageHash === tx.messageHash;
    check(`Safe transaction ${tx.purpose} (nonce ${tx.nonce}) hashes`, hashesOk, hashesOk ? `safeTxHash ${tx.safeTxHash}` : `recomputed safeTxHash ${hashes.safeTxHash}, domain ${hashes.domainHash}, message ${hashes.messageHash}`);
    if (tx.purpose === "schedule") {
      let detail: string;
      let ok = false;
      try {
        const decoded = decodeSchedule(tx.data);
        ok = getAddress(tx.to) === getAddress(record.timelock) && decoded.operationId === record.operationId && decoded.delay.toString() === record.delay;
        detail = ok ? `${decoded.function} of operation ${decoded.operationId} with delay ${decoded.delay}s on the timelock` : `it schedules ${decoded.operationId} (delay ${decoded.delay}s) on ${tx.to}`;
      } catch (e) {
        detail = (e as Error).message;
      }
      check(`Safe transaction ${tx.purpose} (nonce ${tx.nonce}) call`, ok, detail);
    }
  }
  return checks;
}

/** Build the project as it was at `commit` in a scratch git worktree, and read artifacts from there. */
export function artifactsAtCommit(root: string, commit: string): { read(contract: string): RuntimeArtifact | undefined; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-verify-"));
  try {
    execFileSync("git", ["worktree", "add", "--detach", dir, commit], { cwd: root, stdio: "ignore" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new GatehouseError("USAGE", { message: `cannot check out commit ${commit} in ${root}: ${(e as Error).message.split("\n")[0]}` });
  }
  const dispose = () => {
    execFileSync("git", ["worktree", "remove", "--force", dir], { cwd: root, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
    // A parent Hardhat process (tests, tasks) exports HARDHAT_CONFIG etc.; the worktree must use its own config.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HARDHAT_")));
    execFileSync(process.execPath, [path.join(root, "node_modules/hardhat/dist/src/cli.js"), "build", "--quiet", "--no-tests"], { cwd: dir, stdio: "ignore", env });
  } catch (e) {
    dispose();
    throw new GatehouseError("CHAIN_CALL_FAILED", { action: `building commit ${commit}`, reason: (e as Error).message.split("\n")[0] });
  }
  return { read: (contract) => findArtifact(path.join(dir, "artifacts"), contract), dispose };
}

function findArtifact(dir: string, contract: string): RuntimeArtifact | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === `${contract}.json` && !entry.parentPath.includes("build-info")) {
      return JSON.parse(readFileSync(path.join(entry.parentPath, entry.name), "utf8")) as RuntimeArtifact;
    }
  }
  return undefined;
}

export async function verify(opts: { setup: Setup; proposal: string; atCommit?: boolean; repoRoot?: string }): Promise<{ record: ProposalRecord; checks: VerifyCheck[] }> {
  const { setup } = opts;
  const { ctx } = setup;
  const { record } = resolveProposal(setup.root, ctx.network, opts.proposal);
  const checks = verifyRecord(record);
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  check("chain", BigInt(record.chainId) === ctx.chainId, `record chain ${record.chainId}, network '${ctx.network}' chain ${ctx.chainId}`);
  check("timelock", getAddress(record.timelock) === getAddress(setup.deployment.timelock.address), `record ${record.timelock}, deployment ${setup.deployment.timelock.address}`);
  check("Safe", getAddress(record.safe) === getAddress(setup.deployment.safe.address), `record ${record.safe}, deployment ${setup.deployment.safe.address}`);
  for (const op of record.operations) {
    if (op.kind === "transparent") {
      const admin = getAddress(await ctx.up.erc1967.getAdminAddress(op.proxyAddress));
      check(`ProxyAdmin of '${op.proxy}'`, admin === getAddress(op.proxyAdmin!), `on chain ${admin}, the call targets ${op.proxyAdmin}`);
    }
  }

  // Bytecode: against the build at the proposal's commit when it can be checked out, else the current build.
  const repoRoot = opts.repoRoot ?? setup.root;
  const useCommit = opts.atCommit !== false && record.commit !== null && existsSync(path.join(repoRoot, ".git"));
  const build = useCommit ? artifactsAtCommit(repoRoot, record.commit!) : undefined;
  try {
    for (const op of record.operations) {
      const code = await ctx.ethers.provider.getCode(op.newImplementation);
      const artifact = build ? build.read(op.contract) : await ctx.readArtifact(op.contract).catch(() => undefined);
      const source = build ? `the build of ${op.contract} at commit ${record.commit!.slice(0, 12)}` : `the current build of ${op.contract}`;
      check(`bytecode of '${op.proxy}' implementation`, !!artifact && code !== "0x" && runtimeMatches(code, artifact), artifact ? `${op.newImplementation} vs ${source}` : `no contract ${op.contract} in ${source}`);
    }
  } finally {
    build?.dispose();
  }
  return { record, checks };
}
