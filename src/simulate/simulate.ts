import hre from "hardhat";
import { AbiCoder, Interface, Wallet, ZeroAddress, concat, getAddress, id as keccakText, toBeHex, zeroPadValue, type FunctionFragment, type InterfaceAbi, type ParamType } from "ethers";
import { GatehouseError } from "../errors.ts";
import type { Policy } from "../policy/schema.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { executeBatchArgs, executeCalldata, operationIdOf, scheduleCalldata } from "../proposal/derive.ts";
import { OPERATION_STATES, ROLES, TIMELOCK_ABI } from "../timelock/calls.ts";
import { analyzeTrace, type Preimage, type StructLog } from "./trace.ts";
import { ERC1967, PROXY_ADMIN_LAYOUT, SAFE_LAYOUT, SlotNamer, proxySlots, safeSlots, type StorageLayout } from "./layout.ts";
import { balanceChanges, disallowedWrites, permissionDiff, stateDiff, type AccountRole, type BalanceChange, type Finding, type PermissionChange, type SlotChange } from "./diff.ts";

/**
 * `gatehouse simulate`: the proposal's real path on an in-process EDR fork of the network at a pinned
 * block (owners' approveHash, the Safe's execTransaction that schedules, time past the ETA, executeBatch
 * by the policy's executor), traced step by step; then the state diff, the permission and balance
 * changes, the allowed-writes check and the post-upgrade probes. The fork is thrown away at the end.
 */

export interface SimStep {
  name: string;
  from: string;
  to: string;
  ok: boolean;
  gasUsed: string;
  revert?: string;
  events: string[];
}

export interface ProbeResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SimulationReport {
  network: string;
  chainId: string;
  forkBlock: number;
  proposal: string;
  operationId: string;
  /** `propose`: the full path from the owners' approvals; `scheduled`: the operation was already on the timelock. */
  start: "propose" | "scheduled";
  steps: SimStep[];
  stateDiff: SlotChange[];
  unknownSlots: number;
  balances: BalanceChange[];
  permissions: PermissionChange[];
  probes: ProbeResult[];
  findings: Finding[];
  notes: string[];
}

export interface Probe {
  call: string;
  args?: (string | number | boolean)[];
  returns: string;
}

export interface SimulateInput {
  network: string;
  chainId: bigint;
  policy: Policy;
  record: ProposalRecord;
  /** The committed deployment's addresses (the record's are claims, compared against these). */
  safe: string;
  timelock: string;
  proxies: Record<string, { address: string; kind: "uups" | "transparent" }>;
  forkUrl: string;
  blockNumber: number;
  /** OZ upgrades layout of a contract (with ERC-7201 namespaces), by name. */
  layoutOf(contract: string): StorageLayout | undefined;
  /** ABI of a contract of the build, by name (events, errors, probes). */
  abiOf(contract: string): InterfaceAbi | undefined;
  safeAbi: InterfaceAbi;
}

const COMMON_ABI = [
  "event Upgraded(address indexed implementation)",
  "event AdminChanged(address previousAdmin, address newAdmin)",
  "event BeaconUpgraded(address indexed beacon)",
  "event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
  "event Initialized(uint64 version)",
  "event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)",
  "error OwnableUnauthorizedAccount(address account)",
  "error OwnableInvalidOwner(address owner)",
  "error ERC1967InvalidImplementation(address implementation)",
  "error ERC1967NonPayable()",
  "error UUPSUnauthorizedCallContext()",
  "error UUPSUnsupportedProxiableUUID(bytes32 slot)",
  "error InvalidInitialization()",
  "error NotInitializing()",
  "error FailedCall()",
  "error AddressEmptyCode(address target)",
  "error ProxyDeniedAdminAccess()",
  "function upgradeToAndCall(address newImplementation, bytes data) payable",
  "function upgradeAndCall(address proxy, address implementation, bytes data) payable",
  "function owner() view returns (address)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function getModulesPaginated(address start, uint256 pageSize) view returns (address[] array, address next)",
];

const EXECUTOR = getAddress(`0x${keccakText("gatehouse.simulate.executor").slice(26)}`);
const GAS = 15_000_000n;

type Rpc = { request(a: { method: string; params?: unknown[] }): Promise<unknown> };

class Decoder {
  private readonly ifaces: Interface[];
  constructor(abis: InterfaceAbi[]) {
    this.ifaces = abis.map((a) => new Interface(a));
  }
  log(l: { topics: string[]; data: string; address: string }, label: (a: string) => string): string {
    for (const i of this.ifaces) {
      try {
        const p = i.parseLog(l);
        if (p) return `${label(l.address)}: ${p.name}(${p.args.map((a) => fmt(a)).join(", ")})`;
      } catch {
        /* another ABI */
      }
    }
    return `${label(l.address)}: unknown event ${l.topics[0] ?? "(anonymous)"}`;
  }
  revert(data: string | undefined): string {
    if (!data || data === "0x") return "reverted without a reason";
    if (data.startsWith("0x08c379a0")) return `Error(${JSON.stringify(AbiCoder.defaultAbiCoder().decode(["string"], `0x${data.slice(10)}`)[0])})`;
    if (data.startsWith("0x4e487b71")) return `Panic(0x${(AbiCoder.defaultAbiCoder().decode(["uint256"], `0x${data.slice(10)}`)[0] as bigint).toString(16)})`;
    for (const i of this.ifaces) {
      try {
        const e = i.parseError(data);
        if (e) return `${e.name}(${e.args.map((a) => fmt(a)).join(", ")})`;
      } catch {
        /* another ABI */
      }
    }
    return `unknown error ${data.slice(0, 10)} (${data})`;
  }
}

function fmt(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map(fmt).join(", ")}]`;
  if (typeof v === "string" && v.length > 80) return `${v.slice(0, 74)}…(${(v.length - 2) / 2} bytes)`;
  return String(v);
}

const hexNum = (n: bigint | number) => `0x${BigInt(n).toString(16)}`;

export async function simulate(input: SimulateInput): Promise<SimulationReport> {
  const { record, policy } = input;
  const notes: string[] = [];
  const findings: Finding[] = [];
  const operationId = operationIdOf(record);
  if (operationId !== record.operationId) findings.push({ kind: "record", message: `the record's operationId ${record.operationId} is not the hash of its batch (${operationId}); simulating the batch` });
  if (getAddress(record.safe) !== getAddress(input.safe)) findings.push({ kind: "record", message: `the record names Safe ${record.safe}, the deployment ${input.safe}` });
  if (getAddress(record.timelock) !== getAddress(input.timelock)) findings.push({ kind: "record", message: `the record names timelock ${record.timelock}, the deployment ${input.timelock}` });
  const safe = getAddress(input.safe);
  const timelock = getAddress(input.timelock);

  let fork;
  try {
    fork = await hre.network.create<"generic">({
      network: "default",
      override: {
        chainId: Number(input.chainId),
        forking: { url: input.forkUrl, blockNumber: input.blockNumber },
        // Failures are results here, not exceptions: the trace and the receipt tell what failed.
        throwOnTransactionFailures: false,
        initialBaseFeePerGas: 0,
        loggingEnabled: false,
      },
    });
  } catch (e) {
    throw new GatehouseError("SIMULATION_FORK_FAILED", { network: input.network, block: input.blockNumber, reason: (e as Error).message.split("\n")[0] }, { cause: e });
  }
  const rpc: Rpc = fork.provider as unknown as Rpc;
  // EDR executes calls only in blocks it mined itself (it knows no hardfork history of an arbitrary
  // chain): one empty block on top of the pinned one is the "before" state every read uses.
  const forkTag = hexNum(input.blockNumber + 1);
  try {
    await rpc.request({ method: "evm_mine", params: [] });
    const timelockIface = new Interface([...TIMELOCK_ABI]);
    const safeIface = new Interface(input.safeAbi);
    const common = new Interface(COMMON_ABI);
    const contracts = [...new Set(record.operations.flatMap((o) => [o.contract, o.oldContract ?? ""]).filter(Boolean))];
    const decoder = new Decoder([TIMELOCK_ABI as unknown as InterfaceAbi, input.safeAbi, COMMON_ABI, ...contracts.map((c) => input.abiOf(c)).filter((a): a is InterfaceAbi => !!a)]);

    const call = async (to: string, iface: Interface, fn: string, args: unknown[], tag = "latest", from?: string): Promise<{ ok: boolean; result?: unknown[]; data: string }> => {
      try {
        const data = (await rpc.request({ method: "eth_call", params: [{ to, data: iface.encodeFunctionData(fn, args), ...(from ? { from } : {}) }, tag] })) as string;
        return { ok: true, result: [...iface.decodeFunctionResult(fn, data)], data };
      } catch (e) {
        if (process.env.GATEHOUSE_DEBUG) process.stderr.write(`eth_call ${fn}: ${(e as Error).message}\n`);
        // A revert's data: EDR puts it on the error (`data`, or `data.data`).
        const err = e as { data?: unknown };
        return { ok: false, data: typeof err.data === "string" ? err.data : ((err.data as { data?: string } | undefined)?.data ?? "0x") };
      }
    };
    const storageAt = async (a: string, slot: bigint, tag: string) => (await rpc.request({ method: "eth_getStorageAt", params: [a, toBeHex(slot, 32), tag] })) as string;
    const slotAddress = (w: string) => getAddress(toBeHex(BigInt(w) & ((1n << 160n) - 1n), 20));

    // Who is who: governed proxies (and their ProxyAdmins, read from the chain), the timelock and the Safe.
    const roles = new Map<string, AccountRole>([
      [timelock, { kind: "timelock" }],
      [safe, { kind: "safe" }],
    ]);
    const proxyAdmins = new Map<string, string>();
    for (const [name, p] of Object.entries(input.proxies)) {
      roles.set(getAddress(p.address), { kind: "proxy", name });
      if (p.kind === "transparent") {
        const admin = slotAddress(await storageAt(p.address, ERC1967.admin, forkTag));
        if (admin !== ZeroAddress) {
          proxyAdmins.set(name, admin);
          roles.set(admin, { kind: "proxyAdmin", name });
        }
      }
    }
    const label = (a: string) => {
      const r = roles.get(getAddress(a));
      return r ? (r.kind === "proxy" ? r.name : r.kind === "proxyAdmin" ? `${r.name} ProxyAdmin` : r.kind === "safe" ? "Safe" : "timelock") : getAddress(a);
    };

    // -------------------------------------------------------------------------------- the steps
    const steps: SimStep[] = [];
    const writes = new Map<string, { account: string; slot: bigint }>();
    const preimages = new Map<bigint, Preimage>();
    const touched = new Set<string>([safe, timelock]);
    const seenAddresses = new Set<string>();
    const seenRoles = new Set<string>(Object.values(ROLES));
    const blockGas = BigInt(((await rpc.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as { gasLimit: string }).gasLimit);
    const gas = blockGas < GAS ? blockGas : GAS;

    const send = async (name: string, from: string, to: string, data: string, value = 0n): Promise<boolean> => {
      await rpc.request({ method: "hardhat_impersonateAccount", params: [from] });
      if (value > 0n) {
        const bal = BigInt((await rpc.request({ method: "eth_getBalance", params: [from, "latest"] })) as string);
        if (bal < value) {
          await rpc.request({ method: "hardhat_setBalance", params: [from, hexNum(value)] });
          notes.push(`${from} was given ${value} wei on the fork to send ${name}`);
        }
      }
      // A zero base fee and gas price: the senders' gas does not blur the balance changes.
      await rpc.request({ method: "hardhat_setNextBlockBaseFeePerGas", params: ["0x0"] });
      const hash = (await rpc.request({ method: "eth_sendTransaction", params: [{ from, to, data, value: hexNum(value), gas: hexNum(gas), gasPrice: "0x0" }] })) as string;
      const receipt = (await rpc.request({ method: "eth_getTransactionReceipt", params: [hash] })) as { status: string; gasUsed: string; logs: { topics: string[]; data: string; address: string }[] };
      const trace = (await rpc.request({ method: "debug_traceTransaction", params: [hash, { disableMemory: true, disableStorage: true }] })) as { failed: boolean; returnValue: string; structLogs: StructLog[] };
      const facts = analyzeTrace(trace.structLogs, to);
      const ok = receipt.status === "0x1" && !trace.failed;
      for (const w of facts.writes) writes.set(`${w.account}:${w.slot}`, w);
      for (const [h, p] of facts.preimages) preimages.set(h, p);
      for (const a of [from, to, ...facts.touched]) touched.add(getAddress(a));
      const events = receipt.logs.map((l) => {
        for (const t of l.topics.slice(1)) if (/^0x0{24}/.test(t)) seenAddresses.add(slotAddress(t));
        if (l.topics.length > 1 && /RoleGranted|RoleRevoked/.test(decoder.log(l, label))) seenRoles.add(l.topics[1]!);
        return decoder.log(l, label);
      });
      const revert = ok ? undefined : decoder.revert(trace.returnValue ? (trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`) : undefined);
      steps.push({ name, from: getAddress(from), to: getAddress(to), ok, gasUsed: BigInt(receipt.gasUsed).toString(), ...(revert ? { revert } : {}), events });
      if (!ok) findings.push({ kind: "revert", message: `${name} reverted: ${revert}` });
      return ok;
    };

    const safeTxHashes: string[] = [];
    /** A Safe transaction the way owners run it: approveHash up to the threshold, then execTransaction. */
    const throughSafe = async (what: string, to: string, data: string): Promise<boolean> => {
      const [nonce] = (await call(safe, safeIface, "nonce", [])).result as [bigint];
      const args = [to, 0n, data, 0, 0n, 0n, 0n, ZeroAddress, ZeroAddress, nonce];
      const [safeTxHash] = (await call(safe, safeIface, "getTransactionHash", args)).result as [string];
      safeTxHashes.push(safeTxHash);
      const [owners] = (await call(safe, safeIface, "getOwners", [])).result as [string[]];
      const [threshold] = (await call(safe, safeIface, "getThreshold", [])).result as [bigint];
      const approved: string[] = [];
      for (const o of owners) if (((await call(safe, safeIface, "approvedHashes", [o, safeTxHash])).result![0] as bigint) !== 0n) approved.push(getAddress(o));
      const chosen = [...approved, ...owners.map((o) => getAddress(o)).filter((o) => !approved.includes(o))].slice(0, Number(threshold));
      if (approved.length) notes.push(`${what}: ${approved.length} owner(s) had already approved ${safeTxHash} on chain`);
      for (const o of chosen.filter((c) => !approved.includes(c))) {
        if (!(await send(`${what}: approveHash by owner ${o}`, o, safe, safeIface.encodeFunctionData("approveHash", [safeTxHash])))) return false;
      }
      // Pre-approved signatures (v = 1), sorted by owner as the Safe requires.
      const sigs = concat([...chosen].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).map((o) => concat([zeroPadValue(o, 32), zeroPadValue("0x", 32), "0x01"])));
      return send(`${what}: Safe execTransaction (nonce ${nonce}, safeTxHash ${safeTxHash})`, chosen[0]!, safe, safeIface.encodeFunctionData("execTransaction", [...args.slice(0, 9), sigs]));
    };

    const stateNow = async (tag = "latest") => OPERATION_STATES[Number(((await call(timelock, timelockIface, "getOperationState", [operationId], tag)).result ?? [0n])[0] as bigint)]!;
    const initial = await stateNow(forkTag);
    if (initial === "Done") throw new GatehouseError("SIMULATION_NOTHING_TO_RUN", { operationId, state: "Done" });
    const start = initial === "Unset" ? "propose" : "scheduled";

    const recorded = [...record.safeTransactions].reverse().find((t) => t.purpose === "schedule");
    if (recorded && (getAddress(recorded.to) !== timelock || recorded.data.toLowerCase() !== scheduleCalldata(record).toLowerCase())) {
      findings.push({ kind: "record", message: `the recorded schedule Safe transaction ${recorded.safeTxHash} is not scheduleBatch of this batch on the timelock` });
    }

    let ok = start === "propose" ? await throughSafe("schedule", timelock, scheduleCalldata(record)) : true;
    if (ok) {
      const eta = ((await call(timelock, timelockIface, "getTimestamp", [operationId])).result![0] as bigint);
      const latest = BigInt(((await rpc.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as { timestamp: string }).timestamp);
      await rpc.request({ method: "evm_setNextBlockTimestamp", params: [hexNum(eta > latest ? eta : latest + 1n)] });
      const b = executeBatchArgs(record);
      const value = b.values.reduce((s, v) => s + v, 0n);
      if (policy.governance.executor === "safe") ok = await throughSafe("execute", timelock, executeCalldata(record));
      else ok = await send("executeBatch by an outside executor (executor: open)", EXECUTOR, timelock, executeCalldata(record), value);
      if (ok && (await stateNow()) !== "Done") {
        findings.push({ kind: "revert", message: `the operation ${operationId} is not Done after executeBatch` });
      }
    }

    // -------------------------------------------------------------------------------- the diff
    const written = await Promise.all(
      [...writes.values()].map(async (w) => ({ ...w, before: await storageAt(w.account, w.slot, forkTag), after: await storageAt(w.account, w.slot, "latest") })),
    );
    const namers = new Map<string, SlotNamer[]>();
    const namerOf = (account: string): SlotNamer[] => {
      const a = getAddress(account);
      if (namers.has(a)) return namers.get(a)!;
      const r = roles.get(a) ?? { kind: "other" as const };
      let list: SlotNamer[] = [];
      if (r.kind === "proxy") {
        const ops = record.operations.filter((o) => o.proxy === r.name);
        const names = [...ops.map((o) => o.contract), ...ops.map((o) => o.oldContract ?? ""), policy.contracts.find((c) => c.name === r.name)?.contract ?? ""].filter(Boolean);
        const layouts = names.map((n) => input.layoutOf(n)).filter((l): l is StorageLayout => !!l);
        list = [...layouts, { storage: [], types: {} }].map((l) => new SlotNamer(l, preimages, proxySlots()));
      } else if (r.kind === "proxyAdmin") list = [new SlotNamer(PROXY_ADMIN_LAYOUT, preimages)];
      else if (r.kind === "timelock") list = [new SlotNamer(input.layoutOf("TimelockController") ?? { storage: [], types: {} }, preimages)];
      else if (r.kind === "safe") list = [new SlotNamer(SAFE_LAYOUT, preimages, safeSlots())];
      namers.set(a, list);
      return list;
    };
    const diff = stateDiff(written, (a) => roles.get(getAddress(a)) ?? { kind: "other" }, namerOf);
    findings.push(
      ...disallowedWrites(diff, {
        timelock,
        operationId,
        safe,
        safeTxHashes,
        proxies: Object.entries(input.proxies).map(([name, p]) => ({ address: p.address, name, allow: policy.contracts.find((c) => c.name === name)?.allowWrites ?? [] })),
      }),
    );

    const after = await readPermissions(call, storageAt, "latest", { safe, safeIface, timelock, proxies: input.proxies, proxyAdmins, common, extraRoles: [...seenRoles], extraAccounts: [...seenAddresses, ...touched] });
    // Read at the fork block too (historic state), with every account and role the steps revealed.
    const beforeFull = await readPermissions(call, storageAt, forkTag, { safe, safeIface, timelock, proxies: input.proxies, proxyAdmins, common, extraRoles: [...seenRoles], extraAccounts: [...seenAddresses, ...touched] });
    const permissions = permissionDiff(beforeFull, after);
    for (const p of permissions) {
      // A governed proxy that gains the timelock as its first owner (e.g. an upgrade adding Ownable) gives
      // no one new any power: the timelock already governs it. Every other change is a finding.
      if (ownershipToTimelock(p, Object.keys(input.proxies), timelock)) notes.push(`${p.what}: set to the timelock, which already governs it (not a finding)`);
      else findings.push({ kind: "permission", message: `permission changed: ${p.what}: ${p.before} -> ${p.after}` });
    }

    const balances = balanceChanges(
      await Promise.all(
        [...touched].map(async (a) => ({
          account: a,
          before: BigInt((await rpc.request({ method: "eth_getBalance", params: [a, forkTag] })) as string),
          after: BigInt((await rpc.request({ method: "eth_getBalance", params: [a, "latest"] })) as string),
        })),
      ),
    );

    // -------------------------------------------------------------------------------- the probes
    const probes: ProbeResult[] = [];
    if (ok) {
      const stranger = Wallet.createRandom().address;
      for (const op of record.operations) {
        const p = input.proxies[op.proxy];
        if (!p) {
          findings.push({ kind: "record", message: `operation on '${op.proxy}': not a governed proxy of the deployment` });
          continue;
        }
        const impl = slotAddress(await storageAt(p.address, ERC1967.implementation, "latest"));
        probes.push({ name: `${op.proxy}: implementation is the recorded ${op.contract}`, ok: impl === getAddress(op.newImplementation), detail: impl });
        if (p.kind === "uups") {
          const r = await call(p.address, common, "upgradeToAndCall", [impl, "0x"], "latest", stranger);
          probes.push({ name: `${op.proxy}: a stranger's upgradeToAndCall reverts`, ok: !r.ok, detail: r.ok ? `it succeeded from ${stranger}: anyone can upgrade` : decoder.revert(r.data) });
          const owner = await call(p.address, common, "owner", []);
          probes.push({ name: `${op.proxy}: owner is the timelock`, ok: owner.ok && getAddress(owner.result![0] as string) === timelock, detail: owner.ok ? label(owner.result![0] as string) : "owner() failed" });
        } else {
          const admin = proxyAdmins.get(op.proxy);
          const adminNow = slotAddress(await storageAt(p.address, ERC1967.admin, "latest"));
          probes.push({ name: `${op.proxy}: ERC-1967 admin unchanged`, ok: admin !== undefined && adminNow === admin, detail: adminNow });
          if (admin) {
            const r = await call(admin, common, "upgradeAndCall", [p.address, impl, "0x"], "latest", stranger);
            probes.push({ name: `${op.proxy}: a stranger's ProxyAdmin.upgradeAndCall reverts`, ok: !r.ok, detail: r.ok ? `it succeeded from ${stranger}: anyone can upgrade` : decoder.revert(r.data) });
            const owner = await call(admin, common, "owner", []);
            probes.push({ name: `${op.proxy}: ProxyAdmin owner is the timelock`, ok: owner.ok && getAddress(owner.result![0] as string) === timelock, detail: owner.ok ? label(owner.result![0] as string) : "owner() failed" });
          }
          // The implementation itself may expose an upgrade function to non-admin callers of the proxy.
          const r = await call(p.address, common, "upgradeToAndCall", [impl, "0x"], "latest", stranger);
          probes.push({ name: `${op.proxy}: a stranger's upgradeToAndCall through the proxy reverts`, ok: !r.ok, detail: r.ok ? `it succeeded from ${stranger}` : decoder.revert(r.data) });
        }
        // An initializer the upgrade left open lets anyone set the owner or guardian afterwards (a V2 proxy
        // upgraded to V3 without its reinitializer, whose `initialize` is reinitializer(2)): each one of the
        // target, and each the policy allows an upgrade to call, must revert for a stranger.
        const abi = input.abiOf(op.contract);
        if (abi) {
          const iface = new Interface(abi);
          const allowed = new Set(policy.contracts.find((c) => c.name === op.proxy)?.upgradeInitializers ?? []);
          const inits: FunctionFragment[] = [];
          iface.forEachFunction((f) => {
            if (!f.constant && (/^(re)?init(ialize)?/i.test(f.name) || allowed.has(f.name))) inits.push(f);
          });
          for (const f of inits) {
            const r = await call(p.address, iface, f.format("sighash"), f.inputs.map((t) => strangerArg(t, stranger)), "latest", stranger);
            probes.push({ name: `${op.proxy}: a stranger's ${f.format("sighash")} reverts`, ok: !r.ok, detail: r.ok ? `it succeeded from ${stranger}: an initializer is still open after the upgrade (anyone could set what it sets)` : decoder.revert(r.data) });
          }
        }
        for (const probe of policy.contracts.find((c) => c.name === op.proxy)?.probes ?? []) {
          probes.push(await runProbe(probe, op.contract, p.address, { timelock, safe }, input.abiOf(op.contract), call, decoder));
        }
      }
    } else {
      notes.push("post-upgrade probes skipped: the path did not complete");
    }
    for (const p of probes.filter((x) => !x.ok)) findings.push({ kind: "probe", message: `probe failed: ${p.name}: ${p.detail}` });

    return {
      network: input.network,
      chainId: input.chainId.toString(),
      forkBlock: input.blockNumber,
      proposal: record.id,
      operationId,
      start,
      steps,
      stateDiff: diff,
      unknownSlots: diff.filter((d) => !d.name).length,
      balances,
      permissions,
      probes,
      findings,
      notes,
    };
  } finally {
    await fork.close();
  }
}

/** True for `<proxy> owner: (none) or zero -> the timelock` on a governed proxy. Pure. */
export function ownershipToTimelock(p: PermissionChange, proxyNames: string[], timelock: string): boolean {
  const m = /^(.+) owner$/.exec(p.what);
  if (!m || !proxyNames.includes(m[1]!)) return false;
  const unset = p.before === "(none)" || (/^0x[0-9a-fA-F]{40}$/.test(p.before) && BigInt(p.before) === 0n);
  return unset && /^0x[0-9a-fA-F]{40}$/.test(p.after) && getAddress(p.after) === getAddress(timelock);
}

type Call = (to: string, iface: Interface, fn: string, args: unknown[], tag?: string, from?: string) => Promise<{ ok: boolean; result?: unknown[]; data: string }>;

/** A plausible argument from a stranger: its own address for every address, small non-zero values otherwise. */
function strangerArg(t: ParamType, stranger: string): unknown {
  if (t.baseType === "array") return t.arrayLength && t.arrayLength > 0 ? Array.from({ length: t.arrayLength }, () => strangerArg(t.arrayChildren!, stranger)) : [];
  if (t.baseType === "tuple") return t.components!.map((c) => strangerArg(c, stranger));
  if (t.baseType === "address") return stranger;
  if (t.baseType === "bool") return true;
  if (t.baseType === "string") return "x";
  if (t.baseType === "bytes") return "0x";
  if (t.baseType.startsWith("bytes")) return "0x" + "11".repeat(Number(t.baseType.slice(5)));
  return 1n;
}

async function runProbe(probe: Probe, contract: string, proxy: string, names: { timelock: string; safe: string }, abi: InterfaceAbi | undefined, call: Call, decoder: Decoder): Promise<ProbeResult> {
  const name = `${contract}.${probe.call}${probe.args?.length ? ` with (${probe.args.join(", ")})` : ""} == ${probe.returns}`;
  const iface = new Interface(abi ?? []);
  const fn = iface.getFunction(probe.call);
  if (!fn) return { name, ok: false, detail: `${contract} has no function ${probe.call}` };
  const resolve = (v: string) => (v === "timelock" ? names.timelock : v === "safe" ? names.safe : v);
  const args = (probe.args ?? []).map((a) => (typeof a === "string" ? resolve(a) : a));
  const r = await call(proxy, iface, fn.format("sighash"), args);
  if (!r.ok) return { name, ok: false, detail: `reverted: ${decoder.revert(r.data)}` };
  const got = r.result!.length === 1 ? fmt(r.result![0]) : fmt(r.result);
  const want = resolve(probe.returns);
  return { name, ok: got.toLowerCase() === want.toLowerCase(), detail: `returned ${got}` };
}

interface PermissionTargets {
  safe: string;
  safeIface: Interface;
  timelock: string;
  proxies: Record<string, { address: string; kind: "uups" | "transparent" }>;
  proxyAdmins: Map<string, string>;
  common: Interface;
  extraRoles?: string[];
  extraAccounts?: string[];
}

/** Who may do what, as a flat map: Safe owners/threshold/modules/guard, timelock roles and delay, proxy owners and admins. */
async function readPermissions(call: Call, storageAt: (a: string, s: bigint, tag: string) => Promise<string>, tag: string, t: PermissionTargets): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const one = async (key: string, to: string, iface: Interface, fn: string, args: unknown[] = []) => {
    const r = await call(to, iface, fn, args, tag);
    if (r.ok) out[key] = fmt(r.result!.length === 1 ? r.result![0] : r.result);
  };
  await one("Safe owners", t.safe, t.safeIface, "getOwners");
  await one("Safe threshold", t.safe, t.safeIface, "getThreshold");
  await one("Safe modules", t.safe, t.common, "getModulesPaginated", ["0x0000000000000000000000000000000000000001", 50n]);
  for (const [k, s] of [["Safe guard", keccakText("guard_manager.guard.address")], ["Safe fallback handler", keccakText("fallback_manager.handler.address")]] as const) {
    out[k] = getAddress(toBeHex(BigInt(await storageAt(t.safe, BigInt(s), tag)) & ((1n << 160n) - 1n), 20));
  }
  await one("timelock minDelay", t.timelock, new Interface(["function getMinDelay() view returns (uint256)"]), "getMinDelay");
  const accounts = [...new Set([t.safe, t.timelock, ZeroAddress, ...(t.extraAccounts ?? [])].map((a) => getAddress(a)))];
  const roles = [...new Set([...Object.values(ROLES), ...(t.extraRoles ?? [])])];
  const roleName = (r: string) => Object.entries(ROLES).find(([, v]) => v === r)?.[0] ?? r;
  const members = async (where: string, to: string) => {
    for (const role of roles) {
      const holders: string[] = [];
      for (const a of accounts) {
        const r = await call(to, t.common, "hasRole", [role, a], tag);
        if (!r.ok) return; // not AccessControl
        if (r.result![0] === true) holders.push(a);
      }
      out[`${where} ${roleName(role)}`] = holders.join(", ") || "(nobody known)";
    }
  };
  await members("timelock", t.timelock);
  for (const [name, p] of Object.entries(t.proxies)) {
    await one(`${name} owner`, p.address, t.common, "owner");
    out[`${name} ERC-1967 admin`] = getAddress(toBeHex(BigInt(await storageAt(p.address, ERC1967.admin, tag)) & ((1n << 160n) - 1n), 20));
    const admin = t.proxyAdmins.get(name);
    if (admin) await one(`${name} ProxyAdmin owner`, admin, t.common, "owner");
    await members(name, p.address);
  }
  return out;
}
