import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, ZeroHash, getAddress, type TransactionReceipt } from "ethers";
import type { Actor } from "../src/chain/context.ts";
import { deriveSalt, planUpgrade, type ProxyChange } from "../src/plan/plan.ts";
import { operationState } from "../src/pipeline/setup.ts";
import { safeContract, readSafe } from "../src/safe/kit.ts";
import { approveSafeTx, buildSafeTx, executeSafeTx } from "../src/safe/transactions.ts";
import { decodeSchedule, encodeSchedule, encodeScheduleBatch, hashOperationBatch, type Batch, type OperationState } from "../src/timelock/calls.ts";
import { deployed, type Deployed } from "../test/helpers/fixture.ts";
import { formatGas, formatSaving, versus, type Table } from "./table.ts";

/**
 * Gas of scheduling N proxy upgrades through the Safe:
 *  A (Gatehouse)  one Safe transaction whose call is `scheduleBatch` of all N upgradeToAndCall calls;
 *  B (baseline)   N Safe transactions, each calling `schedule` with one upgradeToAndCall call.
 * Each Safe transaction is approved on chain (approveHash) by as many owners as the threshold needs and
 * executed through protocol-kit by a non-owner relayer, with the same functions the pipeline uses.
 * Optionally, after the delay, the scheduled operations are executed (one executeBatch vs N execute).
 * Every variant and N runs on its own fresh in-process chain; every number is a receipt's gasUsed.
 */

export type Variant = "batch" | "separate";

export interface FlowGas {
  variant: Variant;
  upgrades: number;
  /** VERSION() of the Safe singleton on the chain that was measured. */
  safeVersion: string;
  /** Safe transactions executed to schedule the upgrades. */
  safeTxs: number;
  /** approveHash transactions sent. */
  approvals: number;
  approveGas: bigint;
  /** The Safe execTransaction transactions (the scheduling itself). */
  safeExecGas: bigint;
  /** approveGas + safeExecGas: the whole signing and scheduling flow. */
  totalGas: bigint;
  /** Timelock operations scheduled (1 for A, N for B), all checked to be Waiting afterwards. */
  operations: number;
  /** After the delay: the transactions that executed the operations, and their gas (when measured). */
  timelockTxs?: number;
  timelockExecGas?: bigint;
}

export interface ScheduleGasRow {
  upgrades: number;
  batch: FlowGas;
  separate: FlowGas;
}

export interface ScheduleGasOptions {
  sizes?: number[];
  /** Also execute the operations after the delay (executeBatch vs N execute). Default true. */
  execute?: boolean;
  log?: (line: string) => void;
}

/** A timelock operation as scheduled: its batch (one call for `schedule`), id and the Safe calldata. */
interface ScheduledOp {
  batch: Batch;
  operationId: string;
  scheduleData: string;
}

class MeasurementFailed extends Error {
  override name = "MeasurementFailed";
}

function expect(condition: boolean, what: string): asserts condition {
  if (!condition) throw new MeasurementFailed(what);
}

async function receiptOf(d: Deployed, hash: string): Promise<TransactionReceipt> {
  const receipt = await d.ctx.ethers.provider.getTransactionReceipt(hash);
  expect(receipt !== null && receipt.status === 1, `transaction ${hash} has no successful receipt`);
  return receipt;
}

/** N UUPS VaultV1 proxies owned by the timelock, and one VaultV2 implementation (validated by OZ upgrades) for all of them. */
export async function deployVaults(d: Deployed, n: number): Promise<ProxyChange[]> {
  const { ctx, actors, setup } = d;
  const timelock = setup.deployment.timelock.address;
  const v1 = await ctx.ethers.getContractFactory("VaultV1", actors.deployer.signer);
  const proxies: string[] = [];
  for (let i = 0; i < n; i++) {
    const proxy = await ctx.up.deployProxy(v1, [timelock], { kind: "uups", initializer: "initialize" });
    await proxy.waitForDeployment();
    proxies.push(getAddress(await proxy.getAddress()));
  }
  for (const p of proxies) {
    const owner = getAddress((await new Contract(p, ["function owner() view returns (address)"], ctx.ethers.provider).owner()) as string);
    expect(owner === getAddress(timelock), `proxy ${p} is owned by ${owner}, not the timelock`);
  }
  const oldImplementation = getAddress(await ctx.up.erc1967.getImplementationAddress(proxies[0]!));
  const v2 = await ctx.ethers.getContractFactory("VaultV2", actors.deployer.signer);
  const newImplementation = getAddress((await ctx.up.prepareUpgrade(proxies[0]!, v2, { kind: "uups" })) as string);
  expect(newImplementation !== oldImplementation, "VaultV2 was prepared at VaultV1's implementation address");
  return proxies.map((proxy, i) => ({
    name: `vault-${String(i).padStart(2, "0")}`,
    kind: "uups",
    proxy,
    contract: "VaultV2",
    oldContract: "VaultV1",
    oldImplementation,
    newImplementation,
    initializer: "0x",
  }));
}

/** OZ upgrades keeps a manifest per in-process chain instance in the OS temp directory; the bench removes its own. */
export async function devManifestFile(d: Deployed): Promise<string> {
  const { instanceId } = (await d.ctx.connection.provider.request({ method: "hardhat_metadata" })) as { instanceId: string };
  return path.join(tmpdir(), "openzeppelin-upgrades", `hardhat-${d.ctx.chainId}-${instanceId}.json`);
}

/** The receipt of `owner`'s approveHash of `safeTxHash`, found by its ApproveHash event. */
async function approveReceipt(d: Deployed, safe: string, safeTxHash: string, owner: string): Promise<TransactionReceipt> {
  const contract = safeContract(d.ctx, safe);
  const logs = await contract.queryFilter(contract.filters.ApproveHash!(safeTxHash, owner), 0, "latest");
  expect(logs.length === 1, `expected one ApproveHash(${safeTxHash}, ${owner}) event, found ${logs.length}`);
  return receiptOf(d, logs[0]!.transactionHash);
}

async function expectStates(d: Deployed, ops: ScheduledOp[], state: OperationState, when: string): Promise<void> {
  for (const op of ops) {
    const actual = (await operationState(d.setup.timelock, op.operationId)).state;
    expect(actual === state, `operation ${op.operationId} is ${actual} ${when}, expected ${state}`);
  }
}

export async function measureFlow(variant: Variant, n: number, opts: { execute?: boolean } = {}): Promise<FlowGas> {
  const d = await deployed();
  try {
    const { ctx, setup, actors } = d;
    const timelock = getAddress(setup.deployment.timelock.address);
    const safe = getAddress(setup.deployment.safe.address);
    const delay = (await setup.timelock.getMinDelay()) as bigint;
    const changes = await deployVaults(d, n);
    const plan = planUpgrade({ chainId: ctx.chainId, timelock, changes, delay });
    expect(plan.operations.length === n, `the plan has ${plan.operations.length} operations for ${n} proxies`);

    const ops: ScheduledOp[] =
      variant === "batch"
        ? [{ batch: plan.batch, operationId: plan.operationId, scheduleData: encodeScheduleBatch(plan.batch, delay) }]
        : plan.operations.map((op) => {
            const batch: Batch = { calls: [op.call], predecessor: ZeroHash, salt: deriveSalt(ctx.chainId, timelock, [op.call], 0) };
            const scheduleData = encodeSchedule(op.call, batch.predecessor, batch.salt, delay);
            return { batch, operationId: decodeSchedule(scheduleData).operationId, scheduleData };
          });

    const live = await readSafe(ctx, safe);
    const approvers: Actor[] = actors.owners.filter((o) => live.owners.includes(o.address)).slice(0, live.threshold);
    expect(approvers.length === live.threshold, `only ${approvers.length} of the Safe's ${live.threshold} required owners are available`);
    const relayer = actors.user;
    expect(!live.owners.includes(relayer.address), "the relayer must not be a Safe owner (its execution would count as an approval)");

    let approvals = 0;
    let approveGas = 0n;
    let safeTxs = 0;
    let safeExecGas = 0n;
    for (const op of ops) {
      const nonce = (await readSafe(ctx, safe)).nonce;
      const tx = await buildSafeTx({ ctx, deployment: setup.deployment, safe, to: timelock, data: op.scheduleData, nonce, purpose: "schedule", proposer: approvers[0]!.address, via: "onchain" });
      for (const owner of approvers) {
        expect(await approveSafeTx(ctx, setup.deployment, tx, owner), `owner ${owner.address} had already approved ${tx.safeTxHash}`);
        approveGas += (await approveReceipt(d, safe, tx.safeTxHash, owner.address)).gasUsed;
        approvals++;
      }
      safeExecGas += (await receiptOf(d, await executeSafeTx(ctx, setup.deployment, tx, relayer))).gasUsed;
      safeTxs++;
    }
    expect((await readSafe(ctx, safe)).nonce === live.nonce + safeTxs, "the Safe nonce did not advance once per Safe transaction");
    await expectStates(d, ops, "Waiting", "after scheduling");
    const scheduledCalls = await setup.timelock.queryFilter(setup.timelock.filters.CallScheduled!(), 0, "latest");
    expect(scheduledCalls.length === n, `the timelock emitted ${scheduledCalls.length} CallScheduled events for ${n} upgrades`);

    const safeVersion = (await safeContract(ctx, safe).VERSION()) as string;
    const result: FlowGas = { variant, upgrades: n, safeVersion, safeTxs, approvals, approveGas, safeExecGas, totalGas: approveGas + safeExecGas, operations: ops.length };
    if (opts.execute === false) return result;

    // Hardhat's RPC methods: `npm run bench` is not a test run, so the network-helpers plugin is not loaded.
    await ctx.connection.provider.request({ method: "evm_increaseTime", params: [Number(delay)] });
    await ctx.connection.provider.request({ method: "evm_mine", params: [] });
    await expectStates(d, ops, "Ready", "after the delay");
    const timelockAsRelayer = setup.timelock.connect(relayer.signer) as Contract;
    let timelockTxs = 0;
    let timelockExecGas = 0n;
    for (const op of ops) {
      const { calls, predecessor, salt } = op.batch;
      const response =
        variant === "batch"
          ? await timelockAsRelayer.executeBatch(calls.map((c) => c.target), calls.map((c) => c.value), calls.map((c) => c.data), predecessor, salt)
          : await timelockAsRelayer.execute(calls[0]!.target, calls[0]!.value, calls[0]!.data, predecessor, salt);
      timelockExecGas += (await receiptOf(d, response.hash)).gasUsed;
      timelockTxs++;
    }
    await expectStates(d, ops, "Done", "after executing");
    for (const c of changes) {
      const impl = getAddress(await ctx.up.erc1967.getImplementationAddress(c.proxy));
      expect(impl === c.newImplementation, `proxy ${c.proxy} runs ${impl} after executing, expected ${c.newImplementation}`);
    }
    if (variant === "batch") expect(hashOperationBatch(plan.batch) === plan.operationId, "the plan's operation id does not match its batch");
    return { ...result, timelockTxs, timelockExecGas };
  } finally {
    const manifest = await devManifestFile(d).catch(() => undefined);
    await d.close();
    rmSync(d.root, { recursive: true, force: true });
    if (manifest) rmSync(manifest, { force: true });
  }
}

export async function measureScheduleGas(opts: ScheduleGasOptions = {}): Promise<ScheduleGasRow[]> {
  const rows: ScheduleGasRow[] = [];
  for (const n of opts.sizes ?? [1, 5, 20]) {
    const flows: Partial<Record<Variant, FlowGas>> = {};
    for (const variant of ["batch", "separate"] as const) {
      const started = performance.now();
      try {
        flows[variant] = await measureFlow(variant, n, { execute: opts.execute });
      } catch (e) {
        throw new Error(`${n} upgrade(s), ${variant === "batch" ? "A (one Safe tx, scheduleBatch)" : "B (N Safe txs, schedule each)"}: ${(e as Error).message}`, { cause: e });
      }
      opts.log?.(`  ${n} upgrade(s), ${variant}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    rows.push({ upgrades: n, batch: flows.batch!, separate: flows.separate! });
  }
  return rows;
}

function versions(): { timelock: string } {
  const require = createRequire(import.meta.url);
  return { timelock: (require("@openzeppelin/contracts/package.json") as { version: string }).version };
}

export function scheduleGasTables(rows: ScheduleGasRow[]): Table[] {
  const safeVersions = [...new Set(rows.flatMap((row) => [row.batch.safeVersion, row.separate.safeVersion]))].join("/");
  const env = `Safe ${safeVersions} + TimelockController ${versions().timelock}, in-process Hardhat EDR`;
  const approvers = rows[0] ? rows[0].batch.approvals / Math.max(rows[0].batch.safeTxs, 1) : 0;
  const r = { align: "right" as const };
  const tables: Table[] = [
    {
      title: `Scheduling N upgrades through the Safe (gas, ${env})`,
      columns: [
        { header: "upgrades", ...r },
        { header: "one Safe tx, scheduleBatch", ...r },
        { header: "N Safe txs, schedule each (baseline)", ...r },
        { header: "saving", ...r },
        { header: "Safe txs (A vs B)", ...r },
        { header: "approvals (A vs B)", ...r },
      ],
      rows: rows.map((row) => [
        String(row.upgrades),
        formatGas(row.batch.totalGas),
        formatGas(row.separate.totalGas),
        formatSaving(row.batch.totalGas, row.separate.totalGas),
        versus(row.batch.safeTxs, row.separate.safeTxs),
        versus(row.batch.approvals, row.separate.approvals),
      ]),
      notes: [
        `Total gas of the whole flow: ${approvers} owners' approveHash per Safe transaction + the Safe execTransaction (sent by a non-owner relayer through protocol-kit).`,
        "A = Gatehouse (one scheduleBatch of N upgradeToAndCall calls); B = baseline (one schedule per upgrade). Fresh chain per cell; gas = receipt.gasUsed.",
      ],
    },
    {
      title: `Execution only: the Safe execTransaction that schedules (gas, ${env})`,
      columns: [
        { header: "upgrades", ...r },
        { header: "one Safe tx, scheduleBatch", ...r },
        { header: "N Safe txs, schedule each (baseline)", ...r },
        { header: "saving", ...r },
        { header: "approveHash gas (A vs B)", ...r },
      ],
      rows: rows.map((row) => [
        String(row.upgrades),
        formatGas(row.batch.safeExecGas),
        formatGas(row.separate.safeExecGas),
        formatSaving(row.batch.safeExecGas, row.separate.safeExecGas),
        versus(row.batch.approveGas, row.separate.approveGas),
      ]),
      notes: ["Each run's Safe is fresh, so its first execTransaction also pays the nonce's 0 -> 1 storage write (both variants pay it once)."],
    },
  ];
  if (rows.every((row) => row.batch.timelockExecGas !== undefined && row.separate.timelockExecGas !== undefined)) {
    tables.push({
      title: `Executing the upgrades after the delay (gas, executor role open, sent directly to the timelock)`,
      columns: [
        { header: "upgrades", ...r },
        { header: "one executeBatch", ...r },
        { header: "N execute (baseline)", ...r },
        { header: "saving", ...r },
        { header: "timelock txs (A vs B)", ...r },
      ],
      rows: rows.map((row) => [
        String(row.upgrades),
        formatGas(row.batch.timelockExecGas!),
        formatGas(row.separate.timelockExecGas!),
        formatSaving(row.batch.timelockExecGas!, row.separate.timelockExecGas!),
        versus(row.batch.timelockTxs!, row.separate.timelockTxs!),
      ]),
      notes: ["Every operation was checked Waiting after scheduling, Ready after the delay, Done after executing, and every proxy runs VaultV2."],
    });
  }
  return tables;
}
