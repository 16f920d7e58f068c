/**
 * Every user-facing failure of Gatehouse is a GatehouseError built from a descriptor below: a stable
 * number (GH<number>), a short message template, a longer explanation, and the exit code the CLI uses.
 * Exit codes follow the SPEC: 1 = a finding, violation or refusal; 2 = bad usage, config or input;
 * 3 = the command could not run to the end in its environment (no finding either way).
 */

export interface ErrorDescriptor {
  number: number;
  exitCode: 1 | 2 | 3;
  messageTemplate: string;
  explanation: string;
}

const d = (number: number, exitCode: 1 | 2 | 3, messageTemplate: string, explanation: string): ErrorDescriptor => ({
  number,
  exitCode,
  messageTemplate,
  explanation,
});

export const ERRORS = {
  // 1xx: usage and configuration (exit 2)
  USAGE: d(100, 2, "{message}", "The command line was not understood. Run `gatehouse help` for the commands and flags."),
  GOVERNANCE_ACTION_INVALID: d(
    180,
    2,
    "govern {action}: {reason}",
    "`gatehouse govern` stages one typed governance change: update-delay SECONDS, grant-role ROLE ADDRESS, revoke-role ROLE ADDRESS (ROLE: proposer, executor, canceller, admin), unpause PROXY (a governed proxy's policy name).",
  ),
  SAFE_OWNERS_NOT_VIA_TIMELOCK: d(
    181,
    2,
    "govern {action}: the Safe's owners and threshold cannot be changed through the timelock",
    "The Safe's owner functions (addOwnerWithThreshold, removeOwner, swapOwner, changeThreshold) accept only calls from the Safe itself, and the timelock is not a Safe module (making it one would let every timelock operation act as the Safe without signatures). Change owners or threshold with a Safe transaction from the Safe to itself, signed by the current threshold of owners (the Safe UI's owner settings); the watcher reports the change (AddedOwner, RemovedOwner, ChangedThreshold) as a Safe configuration change, and `gatehouse doctor` compares the result with the policy.",
  ),
  POLICY_NOT_FOUND: d(101, 2, "{file}: policy file not found", "Each network needs a policy file policies/<network>.yaml."),
  POLICY_INVALID: d(
    102,
    2,
    "{file}: {path}: {expected}",
    "The policy file does not match the schema in policies/policy.schema.json. The path names the field; the text says what was expected.",
  ),
  FILE_INVALID: d(
    103,
    2,
    "{file}: {path}: {expected}",
    "A Gatehouse file (deployment record, proposal record or Transaction Builder file) does not match its schema.",
  ),
  FILE_NOT_FOUND: d(104, 2, "{file}: not found ({what})", "A file the command needs does not exist."),
  NETWORK_UNKNOWN: d(105, 2, "unknown network '{network}' (expected one of: {known})", "Networks are the Hardhat networks in hardhat.config.ts."),
  CHAIN_MISMATCH: d(
    106,
    2,
    "{file}: chainId {expected} but the network '{network}' reports {actual}",
    "A record or policy was written for another chain than the one connected.",
  ),
  NOT_DEPLOYED: d(107, 2, "{what} is not deployed on '{network}': {hint}", "The governance topology must exist before staging or proposing; `gatehouse deploy` creates it."),
  UNKNOWN_CONTRACT: d(108, 2, "{file}: {path}: no contract named '{name}' in the build", "Policy entries name contracts compiled from contracts/."),
  KEY_MISSING: d(
    109,
    2,
    "no signer for {role}: set {env} or use a network whose accounts hold the key",
    "Gatehouse never asks for a key on the command line. Keys come from the environment or the network's accounts.",
  ),
  KEY_INVALID: d(
    110,
    2,
    "{env}: expected a 32-byte hex private key (0x followed by 64 hex digits); the value is not shown",
    "A malformed key is refused before any library sees it, so that no error message can echo it.",
  ),
  SIMULATION_FORK_FAILED: d(
    111,
    2,
    "cannot fork '{network}' at block {block}: {reason}",
    "`simulate` forks the network in-process (Hardhat EDR) from its RPC URL at a pinned block. The URL must answer JSON-RPC, including state at that block.",
  ),
  SIMULATION_NOTHING_TO_RUN: d(112, 2, "operation {operationId} is {state} on chain: nothing to simulate", "An executed operation has no path left to simulate; `status` and the watcher report what it did."),
  COMMIT_INVALID: d(
    190,
    2,
    "{where}: {commit} is not a full 40-digit lowercase hex commit SHA",
    "A build is only ever checked against a fixed commit: a branch name, tag or short SHA can be moved. A record staged from a dirty or unknown tree has no commit and cannot be verified.",
  ),
  TREE_DIRTY: d(
    130,
    2,
    "{root}: uncommitted changes to {files}: commit them first, or pass --allow-dirty",
    "A proposal records the commit its implementations were built from. Staged from a working tree with uncommitted sources, policies or config, that commit would be a lie. With --allow-dirty the record is marked dirty (no commit), and `verify` and `sign` refuse it.",
  ),

  // 15x: set-up and bad input on the command line or in the environment (exit 2)
  NODE_TOO_OLD: d(
    150,
    2,
    "gatehouse needs Node.js >= {required}; this is {actual}",
    "Gatehouse runs its TypeScript sources with Node's built-in type stripping, which needs Node.js 22.18 or later (`.nvmrc` says 24). `.ci/run` fetches Node 24 from the npm registry when the machine's Node is older.",
  ),
  ACCOUNT_INVALID: d(
    151,
    2,
    "{source} '{value}': expected account:N (an account the network holds) or a 0x-prefixed 20-byte address",
    "Accounts are named by their index on the network (`account:0`) or by address; keys come only from GATEHOUSE_SIGNER_KEY.",
  ),
  RPC_URL_INVALID: d(
    152,
    2,
    "{source}: expected an http:// or https:// URL (the value is not shown: it may hold an API key)",
    "The network's RPC URL could not be parsed. Check the environment variable that hardhat.config.ts reads it from.",
  ),
  RPC_URL_MISSING: d(
    153,
    2,
    "the network '{network}' reads its RPC URL from the environment variable {env}, which is not set",
    "Set the variable to the RPC endpoint of that network (in CI, from a secret); hardhat.config.ts names it.",
  ),
  RPC_CHAIN_MISMATCH: d(
    154,
    2,
    "the RPC of the network '{network}' ({origin}) serves chain {actual}, but hardhat.config.ts expects chain {expected}",
    "The RPC URL points at another chain than the network is configured for: a wrong URL, or a wrong --network.",
  ),
  RPC_UNREACHABLE: d(
    155,
    2,
    "cannot reach the RPC of the network '{network}' at {origin}: {reason}",
    "Nothing answered JSON-RPC at that address. Start the node (`npx hardhat node` for localhost) or check the URL; only its origin is shown, since the rest may hold an API key.",
  ),
  HASH_INVALID: d(156, 2, "{what} '{value}': expected 0x followed by 64 hex digits (a 32-byte hash)", "Safe transaction hashes and timelock operation ids are 32-byte hex values."),
  OPERATION_UNKNOWN: d(
    157,
    2,
    "{detail}",
    "No CallScheduled event of this operation id exists on the network's timelock in the blocks searched: a typo, another network, or an older --from-block is needed.",
  ),
  // 160-169: the GitHub Actions glue (exit 2)
  CI_REPORT_INVALID: d(
    160,
    2,
    "{file}: {path}: {expected}",
    "A file the workflows pass between jobs or runs (the PR audit report artifact) does not match its schema; it is refused rather than trusted.",
  ),
  // 195-199: Safe delegates and the tx-service store (exit 2)
  TX_SERVICE_STORE_TOO_NEW: d(
    195,
    2,
    "{file}: tx-service store schema version {found}, newer than this gatehouse knows ({known})",
    "The SQLite file was written by a newer gatehouse tx-service. It is not opened, so nothing in it is misread or downgraded: use the gatehouse that wrote it, or another --db.",
  ),
  // 191-194: `gatehouse init` (exit 2)
  INIT_CANNOT_DISCOVER: d(
    191,
    2,
    "init on '{network}' (chain {chainId}): {reason}",
    "init needs something to write the policy from: on a network other than Hardhat's dev chains, the existing governance (--safe ADDR --timelock ADDR, the Safe that proposes and the TimelockController that upgrades); and the governed contracts, from --proxy NAME=ADDR or the project's build (contracts with initialize()).",
  ),
  INIT_PROXY_FLAG: d(192, 2, "--proxy '{value}': {reason}", "Each governed proxy is --proxy NAME=ADDR, NAME a lower-case key like 'vault' (used in records and reports), ADDR its address."),
  INIT_NOT_GOVERNANCE: d(
    193,
    2,
    "{flag} {address}: {reason}",
    "init reads the Safe's owners and threshold, the timelock's delay and role holders, and each proxy's ERC-1967 slots from the chain; the address must hold that contract on this network.",
  ),
  INIT_UNMATCHED_IMPLEMENTATION: d(
    194,
    2,
    "proxy '{name}' ({proxy}) runs {implementation}, which matches no contract of this project{hint}",
    "The policy names the contract each proxy runs; init finds it by comparing the implementation's code with the project's build (immutables masked). Build the project (`npx hardhat build`) at the source that was deployed, or write the policy by hand.",
  ),
  ADDRESS_INVALID: d(196, 2, "{what} '{value}': expected an address (0x followed by 40 hex digits)", "Delegates and Safe owners are named by their 20-byte address."),
  // 187-189: watcher monitoring and RPC failover (exit 2)
  RPC_ENV_MISSING: d(
    187,
    2,
    "{file}: watcher.fallbackRpcs[{index}].urlEnv: the environment variable {env} is not set (expected the RPC URL)",
    "Fallback RPC URLs are read from the environment because they often carry an API key; set the variable or remove the entry.",
  ),

  // 173-179: incidents, pause and drills (exit 2)
  INCIDENT_NOT_FOUND: d(173, 2, "{file}: no such incident ({hint})", "`incident update` and `incident close` name an incident `incident open` wrote under incidents/; with no id they act on the one open incident."),
  INCIDENT_AMBIGUOUS: d(174, 2, "{count} incidents are open ({ids}): name one with --id", "More than one incident is open; say which one the command is about."),
  INCIDENT_CLOSED: d(175, 2, "incident {id} is closed ({closedAt})", "A closed incident takes no more updates; open a new one."),
  DRILL_UNKNOWN: d(176, 2, "unknown drill scenario '{scenario}' (expected one of: {known})", "`gatehouse drill` rehearses the scenarios it knows; each is described in `gatehouse drill --help` and the README runbook."),

  // 2xx: findings and refusals (exit 1)
  CHECK_FAILED: d(200, 1, "{count} finding(s) in the upgrade check", "`check` found storage-layout, upgrade-safety or policy violations; `stage` refuses to stage them."),
  DELAY_BELOW_POLICY: d(201, 1, "delay {delay}s is below the policy minimum of {min}s", "Operations must wait at least the policy's minimum delay."),
  NOT_READY: d(202, 1, "operation {operationId} is not ready: {timeLeft} left (ETA {eta})", "The timelock delay has not passed yet; execute again after the ETA."),
  OPERATION_CANCELLED: d(203, 1, "operation {operationId} was cancelled", "The guardian cancelled the operation, so it will never execute as scheduled. Propose it again for a new round of approvals, or stage a new change."),
  NOT_OWNER: d(204, 1, "{address} is not an owner of the Safe {safe}", "Only Safe owners can approve a Safe transaction."),
  THRESHOLD_NOT_MET: d(205, 1, "Safe transaction {safeTxHash} has {have} of {need} approvals", "More owners must approve (`gatehouse sign`) before it can execute."),
  DRIFT: d(206, 1, "{count} deviation(s) from the policy on '{network}'", "`doctor` found the on-chain governance differs from the policy."),
  VERIFY_FAILED: d(207, 1, "{count} mismatch(es) while verifying {what}", "What the proposal says does not match what was recomputed."),
  PROPOSAL_STALE: d(209, 1, "{file}: {reason}", "The chain no longer matches what the proposal expects."),
  ROLLBACK_REFUSED: d(
    280,
    1,
    "proposal {proposal} cannot be rolled back exactly: {reasons}",
    "`gatehouse rollback` stages only an exact return to the implementations an executed proposal replaced, proven from the chain: the operation executed on the timelock, each proxy's Upgraded history names the recorded old implementation, its code still exists, and the newer version only appended storage variables.",
  ),
  GOVERNANCE_REFUSED: d(
    282,
    1,
    "governance change refused: {reasons}",
    "A governance record (`gatehouse govern`) must keep the topology the policy describes: a delay at least rules.minDelaySeconds, PROPOSER_ROLE only for the Safe, CANCELLER_ROLE only for the guardians, EXECUTOR_ROLE only for the policy's executors, no admin but the timelock, unpause only on a governed proxy; and each action's call must be the one its typed fields derive. Change the policy on the protected branch first when the topology itself must change.",
  ),
  ROLLBACK_RECORD_INVALID: d(
    281,
    1,
    "{file}: not an exact rollback of proposal {proposal}: {reasons}",
    "A rollback record must return each proxy of the proposal it names to the implementation that proposal replaced, with no initializer; any other target is refused before anything is signed or sent.",
  ),
  NOT_CANCELLER: d(210, 1, "{address} does not hold CANCELLER_ROLE on the timelock {timelock}", "Only the guardian may cancel."),
  NOT_PENDING: d(211, 1, "operation {operationId} is not pending (state: {state})", "Only a Waiting or Ready operation can be cancelled."),
  ADOPTED_DIFFERS: d(
    240,
    1,
    "{what} {address} does not match the policy: {findings}",
    "`deploy` adopts an existing Safe or timelock only when the chain holds what the policy says (owners, threshold, modules, guards, fallback handler and singleton code; delay and role holders). Fix the contract through its own governance, or correct the policy.",
  ),
  SAFE_CODE_UNKNOWN: d(
    241,
    1,
    "{what}: not the Safe {version} contracts ({keys})",
    "Gatehouse recognises Safe contracts by their runtime code hash (from @safe-global/safe-deployments and the @safe-global/safe-smart-account artifacts), never by an address or by the presence of code. A record that points at other code is refused.",
  ),
  SAFE_TX_SHAPE: d(
    230,
    1,
    "Safe transaction {safeTxHash}: {violations}",
    "Gatehouse builds exactly one Safe transaction shape: a call to the timelock with value 0, operation 0 (never delegatecall) and every gas and refund field zero. Any other value could make the Safe delegatecall or pay a refund to someone, so it is refused before it is verified, signed or executed.",
  ),
  SIGN_REFUSED: d(
    231,
    1,
    "refusing to sign {safeTxHash}: {count} verification failure(s): {failures}",
    "`sign` runs the whole of `gatehouse verify` (record against the chain and the policy, hashes, the build at the proposal's commit) before approving, and approves nothing that failed. Run `gatehouse verify` for the full list.",
  ),

  SIMULATION_FINDINGS: d(
    212,
    1,
    "{count} finding(s) in the simulation of {what}",
    "Simulated on a fork, the proposal reverted, wrote storage the policy does not allow, changed a permission, or failed a post-upgrade probe. The report names each account, slot and variable.",
  ),

  COMMIT_NOT_PROTECTED: d(
    290,
    1,
    "commit {commit} is not on the protected branch '{branch}': {reason}",
    "Only code that reached the protected branch (through review and the required checks) is accepted as the source of a governed implementation. Fetch the branch, or stage from a merged commit.",
  ),
  BUILD_NOT_PINNED: d(
    291,
    1,
    "the build at commit {commit} does not use the policy's pinned compiler: {reason}",
    "The policy pins the solc version and settings; a commit whose config builds differently cannot be compared with what the policy approved.",
  ),
  BUILD_AT_COMMIT_FAILED: d(
    292,
    1,
    "building commit {commit} failed: {reason}",
    "The commit is built from `git archive` with the installed packages and an environment without secrets or network settings. A config that needs a secret, a download or the network fails here by design.",
  ),
  // 273-279: incidents and pause (exit 1)
  NOT_PAUSER: d(273, 1, "{address} may not pause '{contract}' ({proxy}): its pauser is {pauser}", "Only the account the contract names as its guardian (`guardian()` on chain) can pause it; unpausing is the timelock's. Use the guardian's key (--from), or write a Transaction Builder file for a guardian Safe (--builder-file)."),
  NOT_PAUSABLE: d(274, 1, "'{contract}' ({proxy}) cannot be paused: {reason}", "The implementation the proxy runs has no guardian pause (`paused()`/`guardian()`/`pause()`); upgrade it to a pausable version (e.g. VaultV3, RegistryV3) through the governed path first."),
  INCIDENT_INCOMPLETE: d(275, 1, "incident {id}: {count} step(s) not done: {steps}", "Some containment steps could not be done (the file incidents/<id>.json records each step's intent and result). Fix the cause and re-run the same command: done steps are checked on chain and never repeated."),

  // 260-269: the GitHub Actions glue (exit 1)
  REF_NOT_PROTECTED: d(
    260,
    1,
    "{action} refused on '{ref}': only the protected branch '{branch}' may {action}",
    "Jobs that stage, propose, sign or execute run only from the protected branch (.github/gatehouse.json `protectedBranch`, default main). A dispatch from any other branch would run unreviewed code next to the signing key; the network's GitHub environment refuses such a branch too.",
  ),
  PR_AUDIT_FAILED: d(
    261,
    1,
    "PR audit: {summary}",
    "The PR check (base-branch tooling and policy against the PR's contracts) found something a human must decide: a policy relaxation, a change to the records, or a failed upgrade check. See the job summary and the PR comment.",
  ),

  // 263: build outputs committed to the repository (red team)
  BUILD_OUTPUT_TRACKED: d(
    263,
    1,
    "git tracks {count} build output file(s): {files}",
    "Hardhat's compile cache and artifacts are outputs, never inputs: a committed cache entry can point the build at forged artifacts, so `check` would audit something other than the sources. Remove them from git (`git rm -r --cached artifacts cache`) and let the build make them.",
  ),
  // 158-159, 262-269: signatures made outside Gatehouse (sign --signature)
  SIGNATURE_INVALID: d(
    158,
    2,
    "--signature: {reason}",
    "`sign --signature` takes one 65-byte ECDSA signature over the safeTxHash, as a wallet returns it for the typed data `sign --export-typed-data` writes (v 27/28), or an eth_sign signature (v 31/32).",
  ),
  SIGNATURE_NOT_OWNER: d(
    262,
    1,
    "the signature over {safeTxHash} recovers to {recovered}, which is not an owner of the Safe {safe}",
    "A signature counts only when it recovers, over this Safe transaction's hash, to a current owner. A key that is not an owner, or a signature over other data (another transaction, another chain, an edited field), recovers to some other address.",
  ),

  // 340-349: Safe delegates (exit 1)
  NOT_OWNER_OR_DELEGATE: d(
    340,
    1,
    "{address} is neither an owner of the Safe {safe} nor a delegate of one of its current owners on the Safe Transaction Service{hint}",
    "A key that is not an owner can only propose through the Safe Transaction Service, as a delegate an owner registered (`gatehouse delegate add <address> --from <owner>`). A delegate proposes; it never approves.",
  ),
  DELEGATE_REFUSED: d(
    341,
    1,
    "the Safe Transaction Service refused {action}: {reason}",
    "The service checks that the delegator is a current owner of the Safe and that the EIP-712 delegate signature (valid for the current and the previous hour) is the delegator's.",
  ),

  // 3xx: internal or environment failures (exit 1)
  NOTICE_FAILED: d(373, 3, "incident {id}: posting to {sink} failed: {reason}", "A sink did not take the incident notice. What was done is recorded in incidents/<id>.json; re-run the same command to resume: notices already posted are not posted again (webhooks get the same Idempotency-Key)."),
  CHAIN_CALL_FAILED: d(300, 1, "{action} failed: {reason}", "A transaction or RPC call failed."),
  WATCH_INCOMPLETE: d(
    320,
    3,
    "watch could not run to the end after {attempts} attempt(s): {reason}",
    "The chain's RPC kept failing (every call is retried with backoff first). Nothing was decided about blocks not read, and the next run resumes from the checkpoint. Exit 3, not 1: for a scheduled job, exit 1 means an alert was found.",
  ),
} as const satisfies Record<string, ErrorDescriptor>;

export type ErrorName = keyof typeof ERRORS;

function render(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => (key in params ? String(params[key]) : `{${key}}`));
}

/** The one error class of Gatehouse; `code` is stable across releases and `docsPath` points into docs/errors.md. */
export class GatehouseError extends Error {
  readonly code: string;
  readonly number: number;
  readonly exitCode: 1 | 2 | 3;
  readonly errorName: ErrorName;
  readonly explanation: string;
  readonly details: Record<string, unknown>;
  readonly docsPath: string;

  constructor(name: ErrorName, params: Record<string, unknown> = {}, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    const descriptor = ERRORS[name];
    super(render(descriptor.messageTemplate, params), { cause: options.cause });
    this.name = "GatehouseError";
    this.errorName = name;
    this.number = descriptor.number;
    this.code = `GH${descriptor.number}`;
    this.exitCode = descriptor.exitCode;
    this.explanation = descriptor.explanation;
    this.details = { ...params, ...options.details };
    this.docsPath = `docs/errors.md#gh${descriptor.number}`;
  }
}

/** NOT_DEPLOYED with its usual advice, unless the caller knows better. */
export function notDeployed(what: string, network: string, hint = `run \`gatehouse deploy --network ${network}\` first`): GatehouseError {
  return new GatehouseError("NOT_DEPLOYED", { what, network, hint });
}

export function isGatehouseError(e: unknown, name?: ErrorName): e is GatehouseError {
  return e instanceof GatehouseError && (name === undefined || e.errorName === name);
}

/** docs/errors.md, generated from the descriptors above (`npm run schema`); a test keeps it in step. */
export function errorsMarkdown(): string {
  const lines = ["# Gatehouse errors", "", "Generated from `src/errors.ts` by `npm run schema`. Exit 1: a finding, violation or refusal. Exit 2: bad usage, config or input.", ""];
  for (const [name, e] of Object.entries(ERRORS)) {
    lines.push(`## GH${e.number}`, "", `\`${name}\` (exit ${e.exitCode}): \`${e.messageTemplate}\``, "", e.explanation, "");
  }
  return lines.join("\n");
}
