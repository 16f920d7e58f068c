import { isAddress } from "ethers";
import type { Command } from "../main.ts";
import { withSetup } from "../chain.ts";
import { stageGovernance } from "../../pipeline/govern.ts";
import { governanceActionWords } from "../../proposal/derive.ts";
import type { GovernanceInput, RoleName } from "../../proposal/governance.ts";
import { GatehouseError } from "../../errors.ts";

const usage = "govern <update-delay SECONDS | grant-role ROLE ADDRESS | revoke-role ROLE ADDRESS | unpause PROXY> [--network NAME] [--delay SECONDS]";
const ROLE_WORDS: Record<string, RoleName> = { proposer: "PROPOSER_ROLE", executor: "EXECUTOR_ROLE", canceller: "CANCELLER_ROLE", admin: "DEFAULT_ADMIN_ROLE" };
const SAFE_OWNER_ACTIONS = ["add-owner", "remove-owner", "swap-owner", "change-threshold", "safe-owners", "safe-threshold"];

/** The command line's action, checked before any connection (pure). */
export function parseGovernAction(args: string[]): GovernanceInput {
  const [action, a, b] = args;
  const bad = (reason: string) => new GatehouseError("GOVERNANCE_ACTION_INVALID", { action: action ?? "(none)", reason });
  if (!action) throw new GatehouseError("USAGE", { message: `missing the governance action (usage: gatehouse ${usage})` });
  if (SAFE_OWNER_ACTIONS.includes(action)) throw new GatehouseError("SAFE_OWNERS_NOT_VIA_TIMELOCK", { action });
  if (action === "update-delay") {
    if (!a || !/^\d+$/.test(a)) throw bad(`expected the new minimum delay in whole seconds, got ${a === undefined ? "nothing" : JSON.stringify(a.slice(0, 40))}`);
    return { action: "updateDelay", delaySeconds: BigInt(a) };
  }
  if (action === "grant-role" || action === "revoke-role") {
    const role = a ? ROLE_WORDS[a.toLowerCase()] ?? (Object.values(ROLE_WORDS).includes(a as RoleName) ? (a as RoleName) : undefined) : undefined;
    if (!role) throw bad(`expected a role (${Object.keys(ROLE_WORDS).join(", ")}), got ${a === undefined ? "nothing" : JSON.stringify(a.slice(0, 40))}`);
    if (!b || !isAddress(b)) throw bad(`expected the account's 0x address, got ${b === undefined ? "nothing" : JSON.stringify(b.slice(0, 60))}`);
    return { action: action === "grant-role" ? "grantRole" : "revokeRole", role, account: b };
  }
  if (action === "unpause") {
    if (!a) throw bad("expected the governed proxy's name (policy contracts[].name)");
    return { action: "unpause", proxy: a };
  }
  throw bad(`unknown action (expected update-delay, grant-role, revoke-role or unpause; Safe owners and threshold: see GH181)`);
}

const command: Command = {
  summary: "stage a governance change (timelock delay, timelock role, unpause) as a proposal record of its own kind",
  usage,
  options: { delay: { type: "string" } },
  flags: { delay: { value: "SECONDS", help: "the timelock delay of the operation that makes the change (at least the policy minimum)", default: "the policy's governance.delaySeconds" } },
  run: async (c) => {
    const input = parseGovernAction(c.args);
    const delayFlag = c.flags.delay as string | undefined;
    if (delayFlag !== undefined && !/^\d+$/.test(delayFlag)) throw new GatehouseError("USAGE", { message: `--delay ${delayFlag}: expected a whole number of seconds` });
    return withSetup(c, async (setup) => {
      const r = await stageGovernance({ setup, actions: [input], delaySeconds: delayFlag === undefined ? undefined : Number(delayFlag), log: (l) => c.out.log(l) });
      c.out.print(
        [
          `${r.created ? "staged" : "already staged"} governance change: ${r.file}`,
          ...(r.record.actions ?? []).map((a) => `  ${governanceActionWords(a)}`),
          `  operation id ${r.record.operationId}`,
          `  next: gatehouse propose ${r.record.id} --network ${c.network}`,
        ].join("\n"),
      );
      c.out.result({ ok: true, proposal: r });
      return 0;
    });
  },
};
export default command;
