import { keccak256 } from "ethers";

/**
 * Comparing on-chain runtime code with a build artifact (pure). Immutables (like UUPSUpgradeable's
 * `__self`) are written into the code at deployment, so their byte ranges are masked on both sides.
 */
export type ImmutableReferences = Record<string, { start: number; length: number }[]>;

export interface RuntimeArtifact {
  contractName: string;
  sourceName: string;
  deployedBytecode: string;
  immutableReferences?: ImmutableReferences;
}

export function maskImmutables(code: string, refs: ImmutableReferences = {}): string {
  const hex = code.startsWith("0x") ? code.slice(2) : code;
  const chars = hex.split("");
  for (const ranges of Object.values(refs)) {
    for (const { start, length } of ranges) {
      for (let i = start * 2; i < (start + length) * 2 && i < chars.length; i++) chars[i] = "0";
    }
  }
  return "0x" + chars.join("").toLowerCase();
}

/** True when `onchain` is the artifact's runtime code with only its immutables filled in. */
export function runtimeMatches(onchain: string, artifact: RuntimeArtifact): boolean {
  if (onchain.length !== artifact.deployedBytecode.length) return false;
  return maskImmutables(onchain, artifact.immutableReferences) === maskImmutables(artifact.deployedBytecode, artifact.immutableReferences);
}

/** keccak256 of the runtime code with immutables masked: equal for every deployment of the same build. */
export function bytecodeHash(code: string, refs?: ImmutableReferences): string {
  return keccak256(maskImmutables(code, refs));
}

export function findArtifactForCode(onchain: string, artifacts: RuntimeArtifact[]): RuntimeArtifact | undefined {
  return artifacts.find((a) => a.deployedBytecode.length > 2 && runtimeMatches(onchain, a));
}
