import { expect } from "chai";
import { getAddress, id, toBeHex } from "ethers";
import { analyzeTrace, type StructLog } from "../src/simulate/trace.ts";
import { SAFE_LAYOUT, SlotNamer, erc7201Root, proxySlots, type StorageLayout } from "../src/simulate/layout.ts";
import { disallowedWrites, stateDiff } from "../src/simulate/diff.ts";
import { ROLES } from "../src/timelock/calls.ts";
import { keccak256, concat, zeroPadValue } from "ethers";

/** The pure half of `simulate`: trace reading, slot naming and the allowed-writes rule, without a chain. */
const hex = (v: bigint) => toBeHex(v);
const mapSlot = (key: string, base: bigint) => BigInt(keccak256(concat([zeroPadValue(key, 32), toBeHex(base, 32)])));

const ACCESS: StorageLayout = {
  storage: [{ label: "_roles", slot: "0", offset: 0, type: "t_mapping(t_bytes32,t_struct(RoleData)1_storage)" }, { label: "_timestamps", slot: "1", offset: 0, type: "t_mapping(t_bytes32,t_uint256)" }],
  types: {
    "t_struct(RoleData)1_storage": { label: "struct RoleData", numberOfBytes: "64", members: [{ label: "hasRole", slot: "0", offset: 0, type: "t_mapping(t_address,t_bool)" }, { label: "adminRole", slot: "1", offset: 0, type: "t_bytes32" }] },
    t_bool: { label: "bool", numberOfBytes: "1" },
  },
  namespaces: { "erc7201:openzeppelin.storage.Initializable": [{ label: "_initialized", slot: "0", offset: 0, type: "t_uint64" }, { label: "_initializing", slot: "0", offset: 8, type: "t_bool" }] },
};

describe("simulate: trace reading and slot naming (pure)", () => {
  const proxy = getAddress("0x00000000000000000000000000000000000000aa");
  const impl = getAddress("0x00000000000000000000000000000000000000bb");
  const who = getAddress("0x00000000000000000000000000000000000000cc");
  const roleSlot = mapSlot(ROLES.PROPOSER_ROLE, 0n);
  const hasRoleSlot = mapSlot(who, roleSlot);

  // A proxy DELEGATECALLs its implementation, which hashes _roles[PROPOSER_ROLE] then .hasRole[who] and writes it.
  const logs: StructLog[] = [
    { op: "DELEGATECALL", depth: 1, stack: ["0x0", "0x0", "0x0", "0x0", hex(BigInt(impl)), "0xffff"] },
    { op: "MSTORE", depth: 2, stack: [ROLES.PROPOSER_ROLE, "0x0"] },
    { op: "MSTORE", depth: 2, stack: ["0x0", "0x20"] },
    { op: "KECCAK256", depth: 2, stack: ["0x40", "0x0"] },
    { op: "DUP1", depth: 2, stack: [hex(roleSlot)] },
    { op: "MSTORE", depth: 2, stack: [who, "0x0"] },
    { op: "MSTORE", depth: 2, stack: [hex(roleSlot), "0x20"] },
    { op: "KECCAK256", depth: 2, stack: [hex(roleSlot), "0x40", "0x0"] },
    { op: "SSTORE", depth: 2, stack: [hex(hasRoleSlot), "0x1", hex(hasRoleSlot)] },
    { op: "SSTORE", depth: 2, stack: ["0x1", hex(erc7201Root("openzeppelin.storage.Initializable"))] },
    { op: "STOP", depth: 2, stack: [hex(hasRoleSlot)] },
    { op: "STOP", depth: 1, stack: [] },
  ];

  it("attributes a delegatecalled SSTORE to the proxy, and names nested mapping and ERC-7201 slots from the preimages", () => {
    const facts = analyzeTrace(logs, proxy);
    expect(facts.writes.map((w) => w.account)).to.deep.equal([proxy, proxy]);
    expect(facts.touched).to.include.members([proxy, impl]);
    const namer = new SlotNamer(ACCESS, facts.preimages, proxySlots());
    expect(namer.name(hasRoleSlot)!.path).to.equal(`_roles[PROPOSER_ROLE].hasRole[${who}]`);
    expect(namer.name(roleSlot + 1n)!.path).to.equal("_roles[PROPOSER_ROLE].adminRole");
    const init = namer.name(erc7201Root("openzeppelin.storage.Initializable"))!;
    expect(init.variable).to.equal("Initializable._initialized");
    expect(init.parts.map((p) => [p.path, p.offset])).to.deep.equal([["Initializable._initialized", 0], ["Initializable._initializing", 8]]);
    expect(namer.name(BigInt(id("eip1967.proxy.implementation")) - 1n)!.variable).to.equal("erc1967.implementation");
    expect(namer.name(12345n)).to.equal(undefined);
  });

  it("allows only the implementation slot, the operation's timestamp and the Safe's nonce/approvals; names everything else", () => {
    const facts = analyzeTrace(logs, proxy);
    const safe = getAddress("0x00000000000000000000000000000000000000dd");
    const timelock = getAddress("0x00000000000000000000000000000000000000ee");
    const opId = id("op");
    const safeTx = id("safeTx");
    const namers = (a: string) => [a === safe ? new SlotNamer(SAFE_LAYOUT, new Map([[mapSlot(who, 8n), { kind: "mapping" as const, key: BigInt(who), base: 8n }], [mapSlot(safeTx, mapSlot(who, 8n)), { kind: "mapping" as const, key: BigInt(safeTx), base: mapSlot(who, 8n) }]])) : new SlotNamer(ACCESS, facts.preimages, proxySlots())];
    const rows = stateDiff(
      [
        { account: proxy, slot: hasRoleSlot, before: "0x0", after: "0x1" },
        { account: proxy, slot: BigInt(id("eip1967.proxy.implementation")) - 1n, before: "0x0", after: hex(BigInt(impl)) },
        { account: proxy, slot: 77n, before: "0x5", after: "0x5" },
        { account: safe, slot: 5n, before: "0x0", after: "0x1" },
        { account: safe, slot: mapSlot(safeTx, mapSlot(who, 8n)), before: "0x0", after: "0x1" },
      ],
      (a) => (a === proxy ? { kind: "proxy", name: "vault" } : { kind: "safe" }),
      namers,
    );
    expect(rows).to.have.length(4); // the unchanged slot is no change
    const findings = disallowedWrites(rows, { timelock, operationId: opId, safe, safeTxHashes: [safeTx], proxies: [{ address: proxy, name: "vault", allow: [] }] });
    expect(findings).to.have.length(1);
    expect(findings[0]!.message).to.include(`vault (proxy) ${proxy}`).and.include(`_roles[PROPOSER_ROLE].hasRole[${who}]`).and.include("false -> true");
    expect(disallowedWrites(rows, { timelock, operationId: opId, safe, safeTxHashes: [], proxies: [{ address: proxy, name: "vault", allow: ["_roles"] }] }).map((f) => f.message)).to.have.length(1); // now the approval of an unknown safeTxHash
  });
});
