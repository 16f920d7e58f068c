import { z } from "zod";

/**
 * The policy of one network: who governs, which proxies are governed and which contract each should run
 * (the desired state), and the rules every upgrade must satisfy. One YAML file per Hardhat network:
 * policies/<network>.yaml. The JSON schema in policies/policy.schema.json is generated from this file.
 */

export const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, { message: "a 0x-prefixed 20-byte hex address" });

/** An address, or `account:N` for Hardhat's local account N (only meaningful on local networks). */
export const AccountRef = z.union([
  Address,
  z.string().regex(/^account:\d{1,3}$/, { message: "account:N (a local Hardhat account index)" }),
]);

export const ForbiddenConstruct = z.enum(["selfdestruct", "delegatecall"]);

/** The OpenZeppelin upgrades-core validation kinds that can be let through with `unsafeAllow`. */
export const UnsafeAllowFlag = z.enum([
  "state-variable-assignment",
  "state-variable-immutable",
  "external-library-linking",
  "struct-definition",
  "enum-definition",
  "constructor",
  "delegatecall",
  "selfdestruct",
  "missing-public-upgradeto",
  "internal-function-storage",
  "missing-initializer",
  "missing-initializer-call",
  "duplicate-initializer-call",
  "incorrect-initializer-order",
]);

const ContractName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "a Solidity contract name" });

const Integer = z.union([z.string().regex(/^-?\d+$/, { message: "an integer (a decimal string for values beyond 2^53)" }), z.number().int()]);

/**
 * A watcher monitor on one governed contract, evaluated every `watcher.monitorEveryBlocks` blocks: either a
 * view call (`call`, `returns`) with expectations (`equals`, `atLeast`, `atMost`, `maxChange`), or an
 * event rate (`event`): more than `moreThan` such events in the last `blocks` blocks is a breach. A breach
 * is posted once; it is resolved after `resolveAfter` evaluations in a row that meet the expectation.
 */
export const Monitor = z
  .object({
    /** Stable key, unique per contract (metrics label, post key). */
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, { message: "a lower-case key like 'total-deposits'" }),
    call: z.string().regex(/^[A-Za-z_]\w*\([^()]*\)$/, { message: "a view function signature like 'totalDeposits()'" }).optional(),
    args: z.array(z.union([z.string(), z.number(), z.boolean()])).default([]),
    /** The ABI type the view returns (one value). */
    returns: z.string().regex(/^(uint\d*|int\d*|bool|address|bytes\d+)$/, { message: "one ABI value type: uintN, intN, bool, address or bytesN" }).optional(),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    atLeast: Integer.optional(),
    atMost: Integer.optional(),
    /** The value may move by at most `percent` % within any `blocks` blocks (against earlier evaluations). */
    maxChange: z.object({ percent: z.number().nonnegative(), blocks: z.number().int().positive() }).strict().optional(),
    /** An event signature like 'Withdrawn(address,uint256)', counted on the proxy. */
    event: z.string().regex(/^[A-Za-z_]\w*\([^()]*\)$/, { message: "an event signature like 'Withdrawn(address,uint256)'" }).optional(),
    moreThan: z.number().int().nonnegative().optional(),
    blocks: z.number().int().positive().optional(),
    /** Evaluations in a row that meet the expectation before a breach is resolved (no flapping). */
    resolveAfter: z.number().int().positive().default(2),
  })
  .strict()
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if ((m.call === undefined) === (m.event === undefined)) issue(m.call ? "event" : "call", "exactly one of `call` (a view monitor) or `event` (an event-rate monitor)");
    if (m.call !== undefined) {
      if (!m.returns) issue("returns", "the ABI type the view returns, e.g. uint256");
      if (m.equals === undefined && m.atLeast === undefined && m.atMost === undefined && !m.maxChange) issue("call", "at least one expectation: equals, atLeast, atMost or maxChange");
      const numeric = /^u?int/.test(m.returns ?? "");
      for (const k of ["atLeast", "atMost", "maxChange"] as const) if (m[k] !== undefined && !numeric) issue(k, "a numeric `returns` (uintN or intN)");
      for (const k of ["moreThan", "blocks"] as const) if (m[k] !== undefined) issue(k, "only on an event-rate monitor (`event`)");
    }
    if (m.event !== undefined) {
      if (m.moreThan === undefined) issue("moreThan", "the most events allowed in the window, e.g. 3");
      if (m.blocks === undefined) issue("blocks", "the window in blocks, e.g. 100");
      for (const k of ["returns", "equals", "atLeast", "atMost", "maxChange"] as const) if (m[k] !== undefined) issue(k, "only on a view monitor (`call`)");
    }
  });

export type Monitor = z.infer<typeof Monitor>;

export const GovernedContract = z
  .object({
    /** Stable key of the proxy (used in records and reports). */
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, { message: "a lower-case key like 'vault' or 'name-registry'" }),
    kind: z.enum(["uups", "transparent"]),
    /** The contract the proxy should run (desired state). `stage` upgrades the proxy when it differs. */
    contract: ContractName,
    /** The contract `deploy` puts behind a new proxy; defaults to `contract`. */
    initialContract: ContractName.optional(),
    /** Arguments of `initialize` at first deployment; the strings `timelock` and `guardian` (the first guardian) stand for those addresses. */
    initializerArgs: z.array(z.union([z.string(), z.number(), z.boolean()])).default([]),
    /** The proxy's address, when the proxy exists outside this repository's deployment record. */
    proxy: Address.optional(),
    /**
     * Functions of `contract` an upgrade may call on the proxy (upgradeToAndCall/upgradeAndCall data), by
     * name, e.g. [initializeV2]. Any other call during an upgrade is a watcher alert. Default: none.
     */
    upgradeInitializers: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "a Solidity function name" })).default([]),
    /**
     * The call `stage` makes in the proxy as part of the upgrade (upgradeToAndCall/upgradeAndCall data), e.g.
     * a reinitializer that names the pauser: `{ function: initializeV3, args: [guardian] }`. It must be one of
     * `upgradeInitializers`. Arguments `timelock`, `safe` and `guardian` (the policy's first guardian) stand
     * for those addresses. Default: none (the upgrade calls nothing in the proxy).
     */
    upgradeCall: z
      .object({
        function: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "a Solidity function name" }),
        args: z.array(z.union([z.string(), z.number(), z.boolean()])).default([]),
      })
      .strict()
      .optional(),
    /** `simulate`: view calls on the upgraded proxy and their expected result (`timelock`/`safe` stand for those addresses). */
    probes: z
      .array(z.object({ call: z.string().regex(/^[A-Za-z_]\w*\([^()]*\)$/, { message: "a function signature like 'version()'" }), args: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(), returns: z.string() }).strict())
      .default([]),
    /** `simulate`: variables (as the state diff names them, e.g. `depositCap`, `Initializable._initialized`) the upgrade's initializer may write. */
    allowWrites: z.array(z.string().min(1)).default([]),
    /** Watcher monitors of this contract's state and events (see `Monitor`). */
    monitors: z.array(Monitor).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    (c.monitors ?? []).forEach((m, i) => {
      if (seen.has(m.name)) ctx.addIssue({ code: "custom", path: ["monitors", i, "name"], message: `a unique name ('${m.name}' is repeated)` });
      seen.add(m.name);
    });
  });

export const Policy = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    /** The Hardhat network this policy governs (must equal the file name without .yaml). */
    network: z.string().min(1),
    chainId: z.number().int().positive(),
    governance: z
      .object({
        safe: z
          .object({
            owners: z.array(AccountRef).min(1, { message: "at least one owner" }),
            threshold: z.number().int().positive(),
            /** The Safe's address where it already exists; otherwise `deploy` creates it and records it. */
            address: Address.optional(),
            /**
             * Fallback handlers `doctor` accepts besides the canonical CompatibilityFallbackHandler of the Safe
             * version (recognised by code hash); list 0x0000000000000000000000000000000000000000 to allow none.
             */
            fallbackHandlers: z.array(Address).optional(),
          })
          .strict(),
        /** The guardian: the addresses that hold CANCELLER_ROLE (a guardian Safe's address or EOAs). */
        guardian: z.array(AccountRef).min(1, { message: "at least one guardian" }),
        /** `safe`: only the Safe may execute; `open`: anyone may execute a ready operation (address(0)). */
        executor: z.enum(["safe", "open"]),
        /** The timelock's address where it already exists; otherwise `deploy` creates it. */
        timelock: Address.optional(),
        /** The delay the timelock is deployed with and that `stage` schedules with, in seconds. */
        delaySeconds: z.number().int().nonnegative(),
      })
      .strict(),
    rules: z
      .object({
        minDelaySeconds: z.number().int().nonnegative(),
        minThreshold: z.number().int().positive(),
        /** Largest runtime bytecode of an implementation, in bytes (EIP-170: 24576). */
        maxCodeSize: z.number().int().positive().default(24576),
        forbidden: z.array(ForbiddenConstruct).default(["selfdestruct", "delegatecall"]),
        /** upgrades-core checks that may be let through; anything else is a finding. */
        unsafeAllow: z.array(UnsafeAllowFlag).default([]),
        /**
         * npm library functions the forbidden-construct walk may call without entering them, each with the
         * reason it was accepted. `function`: `<package>/<path>.sol:<Contract>.<function>`, the package
         * with or without `@<version>`, e.g. `@openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall`.
         */
        allowedLibraryCalls: z
          .array(
            z
              .object({
                function: z.string().regex(/^(@[\w.-]+\/)?[\w.-]+(@[\w.+-]+)?\/[\w./-]+\.sol:[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$]*$/, {
                  message: "<package>/<path>.sol:<Contract>.<function>, e.g. @openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall",
                }),
                reason: z.string().min(1, { message: "why this call is acceptable" }),
              })
              .strict(),
          )
          .default([]),
      })
      .strict(),
    compiler: z
      .object({
        version: z.string().regex(/^\d+\.\d+\.\d+$/, { message: "an exact solc version like 0.8.28" }),
        optimizer: z.object({ enabled: z.boolean(), runs: z.number().int().positive() }).strict(),
        evmVersion: z.string().min(1),
      })
      .strict(),
    /**
     * The branch that holds reviewed code: a governed implementation must be the build of a commit
     * reachable from it (verify, sign and the watcher build that commit themselves).
     */
    protectedBranch: z.string().regex(/^[\w./-]+$/, { message: "a git branch name" }).default("main"),
    contracts: z.array(GovernedContract).min(1, { message: "at least one governed contract" }),
    watcher: z
      .object({
        confirmations: z.number().int().nonnegative().default(1),
        /** Contract monitors are evaluated every this many blocks (one Multicall3 read each time). */
        monitorEveryBlocks: z.number().int().positive().optional(),
        /**
         * JSON-RPC endpoints tried in order after the network's own URL when it fails at the transport level
         * (failover). `urlEnv` names an environment variable (URLs often carry a key); `url` for keyless ones.
         */
        fallbackRpcs: z
          .array(z.union([z.object({ urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: "an environment variable name" }) }).strict(), z.object({ url: z.string().url() }).strict()]))
          .optional(),
        /**
         * Re-simulate each pending operation on a fork of the current head: once when it is seen
         * scheduled, again when its ETA is at most `beforeEtaSeconds` away; state diff, permission diff
         * and probes go in the review, and a revert, a failed probe, a finding or effects that differ
         * from the signer packet are alerts. `concurrency`: simulations at once (each forks in-process).
         */
        simulate: z
          .object({
            enabled: z.boolean().default(false),
            beforeEtaSeconds: z.number().int().nonnegative().default(3600),
            concurrency: z.number().int().min(1).max(8).default(1),
          })
          .strict()
          .default({ enabled: false, beforeEtaSeconds: 3600, concurrency: 1 }),
      })
      .strict()
      .default({ confirmations: 1, simulate: { enabled: false, beforeEtaSeconds: 3600, concurrency: 1 } }),
    notifications: z
      .array(
        z.discriminatedUnion("type", [
          z.object({ type: z.literal("github"), repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/), tokenEnv: z.string().default("GITHUB_TOKEN"), labels: z.array(z.string()).default(["gatehouse"]) }).strict(),
          z.object({ type: z.literal("webhook"), urlEnv: z.string(), format: z.enum(["slack", "discord", "json"]).default("json") }).strict(),
          z.object({ type: z.literal("files"), dir: z.string() }).strict(),
        ]),
      )
      .default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.governance.safe.threshold > p.governance.safe.owners.length) {
      ctx.addIssue({ code: "custom", path: ["governance", "safe", "threshold"], message: `at most the number of owners (${p.governance.safe.owners.length})` });
    }
    const seen = new Set<string>();
    p.contracts.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: "custom", path: ["contracts", i, "name"], message: `a unique name ('${c.name}' is repeated)` });
      seen.add(c.name);
      if (c.upgradeCall && !c.upgradeInitializers.includes(c.upgradeCall.function)) {
        ctx.addIssue({ code: "custom", path: ["contracts", i, "upgradeCall", "function"], message: `one of this contract's upgradeInitializers (${c.upgradeInitializers.join(", ") || "none"})` });
      }
    });
  });

export type Policy = z.infer<typeof Policy>;
export type GovernedContract = z.infer<typeof GovernedContract>;
export type PolicyRules = Policy["rules"];
