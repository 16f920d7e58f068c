import { Interface, getAddress } from "ethers";
import type { Guardian } from "../review/operation.ts";
import { ROLES } from "../timelock/calls.ts";
import type { Topology } from "./decide.ts";
import type { Rpc } from "./rpc.ts";

const iface = new Interface(["function hasRole(bytes32 role, address account) view returns (bool)", "function getThreshold() view returns (uint256)", "function getOwners() view returns (address[])"]);

/**
 * The guardians a review names, read from the chain rather than taken from the records: each canceller
 * the deployment record lists, whether it holds CANCELLER_ROLE on the timelock now, and whether it is a
 * Safe (it has code that answers getThreshold() and getOwners(), so its owners sign the cancel).
 */
export async function readGuardians(rpc: Rpc, t: Pick<Topology, "timelock" | "cancellers">): Promise<Guardian[]> {
  const call = async (to: string, data: string): Promise<string | undefined> => {
    try {
      return await rpc.request<string>("eth_call", [{ to, data }, "latest"]);
    } catch (e) {
      // A revert means "not this kind of contract"; anything else (the node failing) must not be read as an answer.
      if (/revert/i.test((e as Error).message) || (e as { code?: number }).code === 3) return undefined;
      throw e;
    }
  };
  return Promise.all(
    t.cancellers.map(async (address) => {
      const role = await call(t.timelock, iface.encodeFunctionData("hasRole", [ROLES.CANCELLER_ROLE, address]));
      const code = await rpc.request<string>("eth_getCode", [address, "latest"]);
      let safe = false;
      if (code !== "0x") {
        const threshold = await call(address, iface.encodeFunctionData("getThreshold"));
        const owners = await call(address, iface.encodeFunctionData("getOwners"));
        try {
          safe = threshold !== undefined && owners !== undefined && iface.decodeFunctionResult("getThreshold", threshold)[0] > 0n && iface.decodeFunctionResult("getOwners", owners)[0].length > 0;
        } catch {
          safe = false;
        }
      }
      const holds = role !== undefined && role !== "0x" && BigInt(role) === 1n;
      return { address: getAddress(address), safe, cancellerRole: holds };
    }),
  );
}
