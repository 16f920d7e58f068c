import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { keccak256, toUtf8Bytes } from "ethers";

/**
 * The vendored Multicall3 artifact (src/watch/multicall/Multicall3.json) is the build of
 * src/watch/multicall/Multicall3.sol with the npm `solc` the project pins: `node scripts/gen-multicall.ts`
 * writes it, and a test rebuilds it and compares, so the bytecode `deploy` sends is the reviewed source's.
 */
export const MULTICALL_SOURCE = new URL("./multicall/Multicall3.sol", import.meta.url);
export const MULTICALL_ARTIFACT = new URL("./multicall/Multicall3.json", import.meta.url);

export interface MulticallArtifact {
  contractName: "Multicall3";
  sourceKeccak256: string;
  compiler: { version: string; optimizer: { enabled: boolean; runs: number }; evmVersion: string };
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
}

export function buildMulticall(): MulticallArtifact {
  const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string; version(): string };
  const source = readFileSync(MULTICALL_SOURCE, "utf8");
  // paris: no PUSH0, so the same bytecode deploys on chains that have not adopted Shanghai.
  const settings = { optimizer: { enabled: true, runs: 200 }, evmVersion: "paris", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }, metadata: { bytecodeHash: "none" } };
  const out = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources: { "Multicall3.sol": { content: source } }, settings }))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`Multicall3.sol does not compile:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  const c = out.contracts["Multicall3.sol"]!["Multicall3"]!;
  return {
    contractName: "Multicall3",
    sourceKeccak256: keccak256(toUtf8Bytes(source)),
    compiler: { version: solc.version(), optimizer: settings.optimizer, evmVersion: settings.evmVersion },
    abi: c.abi,
    bytecode: `0x${c.evm.bytecode.object}`,
    deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
  };
}
