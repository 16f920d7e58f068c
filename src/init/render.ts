import { parsePolicy } from "../policy/load.ts";

/**
 * `gatehouse init`, the pure part: facts discovered in a project and on its chain → the text of
 * policies/<network>.yaml, .github/gatehouse.json and the workflows. No chain, no file system: the
 * command (src/cli/commands/init.ts) reads the facts (src/init/discover.ts) and writes the files.
 */

export interface CompilerFacts {
  version: string;
  optimizer: { enabled: boolean; runs: number };
  evmVersion: string;
}

/** The existing governance, as read from the chain. */
export interface ExistingGovernance {
  safe: { address: string; owners: string[]; threshold: number };
  timelock: { address: string; minDelay: number; proposers: string[]; executors: string[]; cancellers: string[]; admins: string[] };
}

export interface DiscoveredContract {
  name: string;
  kind: "uups" | "transparent";
  /** The contract the proxy runs (an existing proxy) or `deploy` puts behind a new one. */
  contract: string;
  /** An existing proxy: its address, implementation and (transparent) admin. */
  proxy?: { address: string; implementation: string; admin?: string };
  /** A new proxy: `initialize`'s arguments as init could fill them (addresses → the timelock). */
  initializerArgs?: (string | number | boolean)[];
  /** What the user must check, as a YAML comment. */
  note?: string;
}

export interface DiscoveredProject {
  network: string;
  chainId: number;
  compiler: CompilerFacts;
  /** Existing governance, or undefined on a dev chain: Hardhat's local accounts, deployed by `gatehouse deploy`. */
  governance?: ExistingGovernance;
  contracts: DiscoveredContract[];
}

const ZERO = "0x0000000000000000000000000000000000000000";
const q = (v: string | number | boolean) => JSON.stringify(v);
const list = (xs: (string | number | boolean)[]) => `[${xs.map(q).join(", ")}]`;
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** policies/<network>.yaml for the discovered facts; the text parses with the policy schema. Pure. */
export function renderPolicyYaml(d: DiscoveredProject): string {
  const g = d.governance;
  const lines: string[] = [
    "# yaml-language-server: $schema=./policy.schema.json",
    `# Gatehouse policy for the Hardhat network '${d.network}' (chain ${d.chainId}), written by \`gatehouse init\`.`,
    g
      ? "# Governance and proxies as read from the chain; `gatehouse doctor` compares them with the chain again."
      : "# A dev chain: Hardhat's accounts 1-3 own a 2-of-3 Safe, account 4 is the guardian; `gatehouse deploy` creates them.",
    "version: 1",
    `network: ${q(d.network)}`,
    `chainId: ${d.chainId}`,
    "governance:",
  ];
  if (g) {
    const guardian = g.timelock.cancellers.filter((a) => !same(a, g.safe.address));
    const open = g.timelock.executors.some((a) => same(a, ZERO));
    lines.push(
      "  safe:",
      `    address: ${q(g.safe.address)}`,
      `    owners: ${list(g.safe.owners)}`,
      `    threshold: ${g.safe.threshold}`,
      `  timelock: ${q(g.timelock.address)}`,
      `  # CANCELLER_ROLE holders other than the Safe${guardian.length === 0 ? " (none on chain: the Safe stands in; name your guardian here)" : ""}.`,
      `  guardian: ${list(guardian.length > 0 ? guardian : [g.safe.address])}`,
      `  # EXECUTOR_ROLE on chain: ${g.timelock.executors.length > 0 ? g.timelock.executors.join(", ") : "none"}.`,
      `  executor: ${open ? "open" : "safe"}`,
      `  delaySeconds: ${g.timelock.minDelay}`,
    );
    if (g.timelock.proposers.length > 0) lines.push(`  # PROPOSER_ROLE on chain: ${g.timelock.proposers.join(", ")}.`);
    if (g.timelock.admins.length > 0) lines.push(`  # DEFAULT_ADMIN_ROLE on chain: ${g.timelock.admins.join(", ")} (doctor reports any holder but the timelock).`);
  } else {
    lines.push("  safe:", "    owners: [account:1, account:2, account:3]", "    threshold: 2", "  guardian: [account:4]", "  executor: open", "  delaySeconds: 3600");
  }
  const delay = g ? g.timelock.minDelay : 3600;
  const threshold = g ? g.safe.threshold : 2;
  lines.push(
    "rules:",
    `  minDelaySeconds: ${delay}`,
    `  minThreshold: ${threshold}`,
    "  maxCodeSize: 24576",
    "  forbidden: [selfdestruct, delegatecall]",
    "  unsafeAllow: []",
    "compiler:",
    `  version: ${d.compiler.version}`,
    `  optimizer: { enabled: ${d.compiler.optimizer.enabled}, runs: ${d.compiler.optimizer.runs} }`,
    `  evmVersion: ${d.compiler.evmVersion}`,
    "contracts:",
  );
  for (const c of d.contracts) {
    if (c.note) lines.push(`  # ${c.note}`);
    lines.push(`  - name: ${c.name}`, `    kind: ${c.kind}`, `    contract: ${c.contract}`);
    if (c.proxy) {
      lines.push(`    proxy: ${q(c.proxy.address)}`, `    # implementation on chain: ${c.proxy.implementation}${c.proxy.admin ? `; ProxyAdmin ${c.proxy.admin}` : ""}`);
    } else {
      lines.push(`    initializerArgs: ${list(c.initializerArgs ?? [])}`);
    }
  }
  lines.push("watcher:", "  confirmations: 1", "");
  const text = lines.join("\n");
  parsePolicy(text, `policies/${d.network}.yaml`, d.network); // what init writes, the schema accepts (throws otherwise)
  return text;
}

/** .github/gatehouse.json for a project: the network in the rollout, its Solidity folders as audit sources. Pure. */
export function renderWorkflowConfig(opts: { network: string; chainId: number; sources: string[] }): string {
  const mainnet = opts.chainId === 1;
  const config = {
    $comment:
      "Read by the Gatehouse workflows. rollout: the Hardhat networks of the staged rollout (testnet, then mainnet behind a protected environment), also the names of their GitHub environments; each needs policies/<network>.yaml and a committed deployments/<network>.json. protectedBranch: the only branch that may stage, propose, sign or execute. auditSources: the Solidity folders the PR audit takes from the PR. See the Gatehouse README.",
    rollout: { testnet: mainnet ? "sepolia" : opts.network, mainnet: mainnet ? opts.network : "mainnet" },
    txService: {},
    protectedBranch: "main",
    bot: "github-actions[bot]",
    readRpc: {},
    auditSources: opts.sources.length > 0 ? opts.sources : ["contracts"],
  };
  return JSON.stringify(config, null, 2) + "\n";
}

/**
 * A Gatehouse workflow as a project that installed the package runs it: the action scripts come from
 * node_modules/gatehouse (compiled), the build is Hardhat's. Pure.
 */
export function adaptWorkflow(text: string): string {
  return text
    .replace(/node scripts\/actions\/([\w-]+)\.ts/g, "node node_modules/gatehouse/dist/scripts/actions/$1.js")
    .replace(/(^|\s)scripts\/actions\/commit-records\.sh/gm, "$1node_modules/gatehouse/scripts/actions/commit-records.sh")
    .replace(/npm run compile/g, "npx hardhat build")
    .replace(/(^|[^\w-])(pr|pr-comment|stage-propose|execute|watch)\.yml\b/gm, "$1gatehouse-$2.yml");
}

/** The workflows init adds, by their file name in the package and in the project (prefixed, beside the project's own). */
export const WORKFLOWS = ["pr.yml", "pr-comment.yml", "stage-propose.yml", "execute.yml", "watch.yml"].map((f) => ({ source: f, target: `gatehouse-${f}` }));

/** Hardhat's contract names → governed contracts for a new deployment: proxiable ones (UUPS) and initializable ones. Pure. */
export function contractsFromArtifacts(artifacts: { contractName: string; sourceName: string; abi: readonly unknown[]; bytecode: string }[]): DiscoveredContract[] {
  type Fn = { type: string; name?: string; inputs?: { type: string }[] };
  const candidates = artifacts
    .filter((a) => !a.sourceName.startsWith("@") && !a.sourceName.startsWith("npm/") && a.bytecode.length > 2)
    .map((a) => {
      const fns = a.abi as Fn[];
      const init = fns.find((f) => f.type === "function" && f.name === "initialize");
      const uups = fns.some((f) => f.type === "function" && f.name === "proxiableUUID");
      return init ? { a, init, uups } : undefined;
    })
    .filter((x) => x !== undefined);
  // BoxV1, BoxV2: one proxy 'box' that starts at the first version; an upgrade PR names the next one.
  const groups = new Map<string, typeof candidates>();
  for (const c of candidates) {
    const base = c.a.contractName.replace(/V\d+$/, "");
    groups.set(base, [...(groups.get(base) ?? []), c]);
  }
  const out: DiscoveredContract[] = [];
  for (const [base, members] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const first = [...members].sort((x, y) => x.a.contractName.localeCompare(y.a.contractName, "en", { numeric: true }))[0]!;
    const args = (first.init.inputs ?? []).map((i) => (i.type === "address" ? "timelock" : i.type === "bool" ? false : /^u?int/.test(i.type) ? 0 : ""));
    const guessed = (first.init.inputs ?? []).some((i) => i.type !== "address");
    out.push({
      name: base.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase().replace(/[^a-z0-9-]/g, "") || "contract",
      kind: first.uups ? "uups" : "transparent",
      contract: first.a.contractName,
      initializerArgs: args,
      note: guessed
        ? `initialize(${(first.init.inputs ?? []).map((i) => i.type).join(", ")}): fill initializerArgs (address arguments are the timelock).`
        : members.length > 1
          ? `${members.map((m) => m.a.contractName).join(", ")}: deploy starts at ${first.a.contractName}; an upgrade PR sets contract to the next version.`
          : undefined,
    });
  }
  return out;
}

/** `--proxy NAME=ADDR` values → pairs, in order. Pure; throws INIT_PROXY_FLAG. */
export function parseProxyFlags(values: string[], fail: (value: string, reason: string) => Error): { name: string; address: string }[] {
  const seen = new Set<string>();
  return values.map((value) => {
    const m = /^([a-z][a-z0-9-]*)=(0x[0-9a-fA-F]{40})$/.exec(value);
    if (!m) throw fail(value, "expected NAME=ADDR, NAME a lower-case key like 'vault', ADDR 0x followed by 40 hex digits");
    if (seen.has(m[1]!)) throw fail(value, `the name '${m[1]}' is given twice`);
    seen.add(m[1]!);
    return { name: m[1]!, address: m[2]! };
  });
}

/** solc's default EVM version for a compiler version (what Hardhat builds with when the config names none). Pure. */
export function defaultEvmVersion(version: string): string {
  const [, minor = 0, patch = 0] = version.split(".").map(Number);
  if (minor > 8 || patch >= 30) return "prague";
  if (patch >= 25) return "cancun";
  if (patch >= 20) return "shanghai";
  if (patch >= 18) return "paris";
  return "london";
}
