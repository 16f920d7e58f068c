import { execFileSync } from "node:child_process";
import { commitOnBranch } from "../build/at-commit.ts";
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, encodeBytes32String, parseEther } from "ethers";
import { actor, connect, type ChainContext } from "../chain/context.ts";
import { isGatehouseError } from "../errors.ts";
import { loadPolicy } from "../policy/load.ts";
import { renderSafeTxSummary } from "../review/proposal.ts";
import { formatDuration } from "../timelock/calls.ts";
import { deployGovernance } from "../../deploy/governance.ts";
import { cancel } from "./cancel.ts";
import { drill } from "./drill.ts";
import { doctor } from "./doctor.ts";
import { execute } from "./execute.ts";
import { propose } from "./propose.ts";
import { loadSetup, latestTimestamp } from "./setup.ts";
import { sign } from "./sign.ts";
import { gitCommit, stage } from "./stage.ts";
import { status } from "./status.ts";
import { verify } from "./verify.ts";
import { readFileSync } from "node:fs";
import { watcherOptions } from "../watch/setup.ts";
import { filesSink } from "../watch/sinks/files.ts";
import { runOnce } from "../watch/watcher.ts";
import { startTxService, type TxService } from "../service/server.ts";
import { apiKitFor } from "../safe/service-client.ts";

/**
 * `gatehouse demo`: the whole pipeline on the in-process Hardhat network, in a scratch folder so the
 * repository's own records stay untouched. Proposals and confirmations go through the real api-kit to
 * `gatehouse tx-service`, started in-process on a free loopback port. A guardian-cancelled round first, then the same proposal
 * proposed again and carried through to execution. Every claim the demo makes is checked on chain;
 * the result is ok only if all of them held.
 */
export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export async function demo(opts: { projectRoot: string; log: (line: string) => void; workDir?: string }): Promise<{ ok: boolean; checks: DemoCheck[]; workDir: string }> {
  const { log } = opts;
  const root = opts.workDir ?? mkdtempSync(path.join(tmpdir(), "gatehouse-demo-"));
  mkdirSync(path.join(root, "policies"), { recursive: true });
  copyFileSync(path.join(opts.projectRoot, "policies/default.yaml"), path.join(root, "policies/default.yaml"));
  const checks: DemoCheck[] = [];
  const expect = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`   ${ok ? "✔" : "✘"} ${name}: ${detail}`);
  };
  const step = (title: string) => log(`\n==> ${title}`);

  const ctx = await connect("default");
  let service: TxService | undefined;
  try {
    const policy = loadPolicy(root, "default");
    const [deployer, owner1, owner2, , guardian, user] = await Promise.all(
      ["account:0", "account:1", "account:2", "account:3", "account:4", "account:5"].map((r) => actor(ctx, r, r)),
    );
    step(`deploy (workspace ${root})`);
    await deployGovernance({ ctx, root, policy, deployer: deployer!, log: (l) => log(`   ${l}`) });
    step("start the Safe Transaction Service (gatehouse tx-service) on a free loopback port");
    service = await startTxService({ ctx, dbFile: path.join(root, "tx-service.sqlite"), log: () => {} });
    const api = apiKitFor(ctx.chainId, { url: service.url });
    log(`   ${service.url}/api (SQLite ${path.join(root, "tx-service.sqlite")}); proposals go through the real api-kit`);
    // The record names the project's HEAD; stage deploys its build, and verify, sign and the watcher build
    // it again from the project's git repository (the workspace is scratch). They accept only a commit on
    // the protected branch: on a feature branch the demo says so and stands in the current branch for it.
    // The project's HEAD (null outside git): the commit the record names and the watcher builds.
    const head = gitCommit(opts.projectRoot);
    let protectedBranch = policy.protectedBranch;
    if (head && !(await commitOnBranch(opts.projectRoot, head, protectedBranch))) {
      protectedBranch = execFileSync("git", ["rev-parse", "--abbrev-ref", "HEAD"], { cwd: opts.projectRoot }).toString().trim();
      log(`   note: HEAD ${head.slice(0, 12)} is not on '${policy.protectedBranch}'; this demo treats '${protectedBranch}' as the protected branch (a real network never does)`);
    }
    const setup = { ...loadSetup(ctx, root, policy, api), ...(head ? { source: { repoRoot: opts.projectRoot, protectedBranch, commit: head } } : {}) };
    const build = head ? "commit" : "current";
    const reviewsDir = path.join(root, "reviews");
    const watcher = { ...(await watcherOptions(setup, { build: { repoRoot: opts.projectRoot, protectedBranch } })), sinks: [filesSink(reviewsDir)], ledger: path.join(root, "watch.sqlite") };
    // One catch-up of the watcher, as the scheduled workflow runs it; returns what it wrote.
    const watchOnce = async () =>
      (await runOnce(watcher)).posts
        .filter((p) => p.action !== "unchanged")
        .map((p) => ({ ...p, file: p.key.replace(/^op:(0x[0-9a-f]{64}):0x([0-9a-f]{8}).*$/, "op-$1-$2") }));
    const again = await deployGovernance({ ctx, root, policy, deployer: deployer!, log: () => {} });
    expect("deploy is idempotent", again.steps.every((s) => s.startsWith("kept")), `second run: ${again.steps.length} steps, all "kept"`);
    const drift = await doctor(setup);
    expect("doctor finds no drift", drift.length === 0, drift.map((d) => d.rule).join(", ") || "topology matches the policy");

    step("users put state into the V1 contracts");
    const vault = new Contract(setup.deployment.proxies.vault!.address, ["function deposit() payable", "function balanceOf(address) view returns (uint256)", "function version() view returns (string)", "function transfer(address,uint256)"], user!.signer);
    const registry = new Contract(setup.deployment.proxies.registry!.address, ["function register(bytes32)", "function ownerOf(bytes32) view returns (address)", "function count() view returns (uint256)", "function version() view returns (string)"], user!.signer);
    await (await vault.deposit({ value: parseEther("1.5") })).wait();
    await (await registry.register(encodeBytes32String("alice"))).wait();
    log(`   ${user!.address} deposited 1.5 ETH in the vault and registered "alice"`);

    step("stage V2 (check, deploy implementations, write the proposal record)");
    const staged = await stage({ setup, deployer: deployer!, commit: head, log: (l) => log(`   ${l}`) });
    const proposal = staged.proposal!;
    expect("check passes for VaultV2 and RegistryV2", staged.check.findings.length === 0, `${staged.check.proxies.length} proxies audited`);
    log(`   record ${path.relative(root, proposal.file)}; operation ${proposal.record.operationId}`);

    for (const round of ["cancelled", "executed"] as const) {
      step(`round ${round === "cancelled" ? 1 : 2}: propose to the service (owner ${owner1!.address} signs)`);
      const p = await propose({ setup, proposal: proposal.record.id, proposer: owner1!, via: "service" });
      log(renderSafeTxSummary({ record: p.record, safeTx: p.safeTx, approvals: p.approvals, threshold: p.threshold, cancelFile: path.relative(root, p.cancelFile) }).replace(/^/gm, "   "));
      if (p.packet) {
        const pinned = p.packet.packet.effects.changes;
        const slots = pinned.filter((c) => c.variable === "erc1967.implementation");
        const rows = p.packet.packet.stateChanges;
        for (const c of [...rows.filter((r) => !r.bookkeeping), ...rows.filter((r) => r.bookkeeping)]) log(`   state diff: ${c.variable ?? c.slot}: ${c.meaning}`);
        expect(
          `the signer packet pins exactly the ${proposal.record.operations.length} ERC-1967 implementation slot changes`,
          slots.length === proposal.record.operations.length && pinned.length === slots.length && p.packet.packet.findings.length === 0 && p.packet.packet.probes.every((x) => x.ok),
          `${path.relative(root, p.packet.file)}: ${pinned.length} pinned change(s), ${p.packet.packet.probes.length} probe(s) pass, state-diff hash ${p.packet.packet.effectsHash.slice(0, 12)}…`,
        );
      } else expect("propose wrote the signer packet", false, "no packet");
      const twice = await propose({ setup, proposal: proposal.record.id, proposer: owner1!, via: "service" });
      const listed = (await api.getMultisigTransactions(setup.deployment.safe.address)).results.filter((t) => t.safeTxHash === p.safeTx.safeTxHash);
      expect("proposing twice is one Safe transaction", !twice.created && twice.safeTx.safeTxHash === p.safeTx.safeTxHash && listed.length === 1, `same safeTxHash ${p.safeTx.safeTxHash.slice(0, 12)}…, once on the service`);

      if (round === "executed") {
        step("a signer verifies the proposal independently (gatehouse verify)");
        const v = await verify({ setup, proposal: proposal.record.id, build });
        expect(
          "verify recomputes calldata, salt, operation id, Safe hashes and bytecode, and re-simulates the signer packet's state diff",
          v.checks.every((c) => c.ok),
          `${v.checks.length} checks against ${head ? `the build of commit ${head.slice(0, 12)}` : "the current build (no git repository)"}`,
        );
      }
      step(`second owner ${owner2!.address} signs (a confirmation on the service)`);
      const s = await sign({ setup, safeTxHash: p.safeTx.safeTxHash, signer: owner2!, build });
      expect("threshold met", s.approvals.length >= s.threshold, `${s.approvals.length} of ${s.threshold} approvals`);

      step("execute the Safe transaction: the timelock schedules the operation");
      const scheduled = await execute({ setup, proposal: proposal.record.id, executor: deployer! });
      step("the watcher posts the queued operation for community review (files sink)");
      const posted = await watchOnce();
      const review = posted.find((p) => p.action === "created");
      const page = review ? readFileSync(path.join(reviewsDir, `${review.file}.md`), "utf8") : "";
      expect("one review posted, with the cancel path", posted.length === 1 && review?.severity === "review" && page.includes(`gatehouse cancel ${proposal.record.operationId}`), posted.map((p) => `${p.state} ${p.action} ${p.key.slice(0, 30)}`).join("; ") + (review ? ` ${path.relative(root, path.join(reviewsDir, `${review.file}.md`))}` : ""));
      expect("the service shows the Safe transaction executed", (await api.getTransaction(p.safeTx.safeTxHash)).isExecuted, `transaction ${scheduled.tx}`);
      const now = await latestTimestamp(ctx);
      const pending = (await status(setup)).find((r) => r.id === proposal.record.id)!;
      log(`   pending: ${pending.operation}, ETA ${pending.eta} (${formatDuration(scheduled.eta! - now)} left)`);
      expect("operation is pending with its ETA", pending.operation === "Waiting" && scheduled.eta! - now >= BigInt(policy.rules.minDelaySeconds) - 1n, `ETA ${pending.eta}`);
      try {
        await execute({ setup, proposal: proposal.record.id, executor: deployer! });
        expect("execute before the ETA is refused", false, "it was not refused");
      } catch (e) {
        expect("execute before the ETA is refused", isGatehouseError(e, "NOT_READY"), (e as Error).message);
      }

      if (round === "cancelled") {
        step(`guardian ${guardian!.address} cancels during the delay`);
        const c = await cancel({ setup, operationId: proposal.record.operationId, guardian: guardian! });
        log(`   cancel tx ${c.tx}`);
        const updated = await watchOnce();
        expect("the watcher updates the review: cancelled", updated.some((p) => p.state === "cancelled" && p.action === "updated"), updated.map((p) => `${p.state} ${p.action}`).join(", "));
        await increaseTime(ctx, Number(proposal.record.delay));
        try {
          await execute({ setup, proposal: proposal.record.id, executor: deployer! });
          expect("a cancelled operation cannot execute", false, "it executed");
        } catch (e) {
          expect("a cancelled operation cannot execute", isGatehouseError(e, "OPERATION_CANCELLED"), (e as Error).message);
        }
        expect("proxies still run V1", (await vault.version()) === "1.0.0" && (await registry.version()) === "1.0.0", `vault ${await vault.version()}, registry ${await registry.version()}`);
        continue;
      }

      step(`advance time by the delay (${formatDuration(BigInt(proposal.record.delay))}) and execute the operation`);
      await increaseTime(ctx, Number(proposal.record.delay));
      const done = await execute({ setup, proposal: proposal.record.id, executor: deployer! });
      log(`   executeBatch tx ${done.tx}`);
      const closed = await watchOnce();
      expect("the watcher updates the review: executed, and raises no alert", closed.some((p) => p.state === "executed" && p.action === "updated") && closed.every((p) => p.severity === "review"), closed.map((p) => `${p.state} ${p.action}`).join(", "));
      expect("post-upgrade checks", done.postChecks!.every((c) => c.ok), done.postChecks!.map((c) => `${c.proxy} -> ${c.implementation}`).join(", "));
    }

    step("verify: both proxies run V2 and kept their state");
    expect("vault runs VaultV2", (await vault.version()) === "2.0.0", `version() = ${await vault.version()}`);
    expect("registry runs RegistryV2", (await registry.version()) === "2.0.0", `version() = ${await registry.version()}`);
    expect("vault balance survived", (await vault.balanceOf(user!.address)) === parseEther("1.5"), `balanceOf = ${await vault.balanceOf(user!.address)} wei`);
    expect("registry entry survived", (await registry.ownerOf(encodeBytes32String("alice"))) === user!.address && (await registry.count()) === 1n, `ownerOf("alice") = ${await registry.ownerOf(encodeBytes32String("alice"))}`);
    await (await vault.transfer(guardian!.address, parseEther("0.5"))).wait();
    expect("V2 feature works on the old state", (await vault.balanceOf(guardian!.address)) === parseEther("0.5"), "transfer() moved 0.5 ETH of balance");
    const after = await doctor(setup);
    expect("doctor still finds no drift", after.length === 0, after.map((d) => d.rule).join(", ") || "topology matches the policy");
    const restage = await stage({ setup, deployer: deployer!, log: () => {} });
    expect("nothing left to stage", restage.proposal === undefined, "every proxy runs its target contract");

    step("incident drill on a fork (gatehouse drill rogue-upgrade): cancel, pause, notify a scratch sink");
    const blockBefore = await ctx.ethers.provider.getBlockNumber();
    const rehearsal = await drill({ setup, scenario: "rogue-upgrade", dir: path.join(root, "drill"), log: (l) => log(`   ${l}`) });
    const cancelled = rehearsal.incident.steps.filter((s) => s.kind === "cancel" && s.result?.status === "done");
    expect("drill: the rogue upgrade queued on the fork is cancelled", cancelled.length === 1, `${cancelled.length} operation(s) cancelled on the fork in ${rehearsal.containmentMs} ms`);
    const notice = rehearsal.notices[0] ?? path.join(rehearsal.dir, "notices");
    let noticeTitle = "";
    try {
      noticeTitle = (JSON.parse(readFileSync(notice, "utf8")) as { title?: string }).title ?? "";
    } catch {
      noticeTitle = "";
    }
    expect("drill: one incident notice written to the scratch sink", noticeTitle.startsWith("Incident: Drill: rogue-upgrade"), path.relative(root, notice));
    expect("drill: the real chain is untouched", (await ctx.ethers.provider.getBlockNumber()) === blockBefore, `still at block ${blockBefore}`);
    for (const f of rehearsal.findings) log(`   to fix before a real incident: ${f}`);
  } finally {
    await service?.close();
    await ctx.close();
  }
  const ok = checks.every((c) => c.ok);
  log(`\n${ok ? "demo passed" : "demo FAILED"}: ${checks.filter((c) => c.ok).length}/${checks.length} checks held`);
  return { ok, checks, workDir: root };
}

/** Advances the dev chain's clock (Hardhat's RPC methods, so the CLI needs no test-only network-helpers plugin). */
async function increaseTime(ctx: ChainContext, seconds: number): Promise<void> {
  await ctx.connection.provider.request({ method: "evm_increaseTime", params: [seconds] });
  await ctx.connection.provider.request({ method: "evm_mine", params: [] });
}
