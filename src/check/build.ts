import { createHash, type Hash } from "node:crypto";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import path from "node:path";
import { GatehouseError } from "../errors.ts";

/**
 * Adapter over Hardhat 3 build info (`artifacts/build-info/<id>.json` + `<id>.output.json`).
 * `loadBuild` is the only function here that touches the file system; everything else answers from
 * the loaded data, so the audit can be tested on any build.
 */

export const DEFAULT_BUILD_INFO_DIR = "artifacts/build-info";

/** Hardhat 3 prefixes the project's own sources with `project/`; npm sources start with `npm/`. */
const PROJECT_PREFIX = "project/";

export interface SolcSettings {
  optimizer?: { enabled?: boolean; runs?: number };
  evmVersion?: string;
  [key: string]: unknown;
}

export interface SolcInputJson {
  language: string;
  sources: Record<string, { content?: string }>;
  settings: SolcSettings;
}

export interface AstNode {
  nodeType: string;
  id?: number;
  src?: string;
  [key: string]: unknown;
}

export interface SolcContractOutput {
  abi?: unknown[];
  evm: {
    bytecode: { object: string; linkReferences: Record<string, Record<string, { start: number; length: number }[]>> };
    deployedBytecode: {
      object: string;
      immutableReferences?: Record<string, { start: number; length: number }[]>;
      linkReferences?: Record<string, Record<string, { start: number; length: number }[]>>;
    };
    methodIdentifiers?: Record<string, string>;
  };
  storageLayout?: SolcStorageLayout;
}

export interface SolcStorageLayout {
  storage: { astId: number; contract: string; label: string; offset: number; slot: string; type: string }[];
  types: Record<string, { encoding: string; label: string; numberOfBytes: string; [key: string]: unknown }> | null;
}

export interface SolcOutputJson {
  contracts: Record<string, Record<string, SolcContractOutput>>;
  sources: Record<string, { id: number; ast: AstNode }>;
  errors?: unknown[];
}

/** One solc run: the input Hardhat sent and the output it got back. */
export interface CompilationUnit {
  id: string;
  solcVersion: string;
  solcLongVersion: string;
  input: SolcInputJson;
  output: SolcOutputJson;
  /** Source names Hardhat built this unit for (the files it emits artifacts of). */
  roots: string[];
  /**
   * sha256 over the exact bytes of the build-info file and its output file, when loaded from disk: what a
   * cache of results derived from this unit is keyed by (the build-info id alone names the input, not the output).
   */
  contentHash?: string;
}

export interface Build {
  dir: string;
  units: CompilationUnit[];
}

/** A contract located in the build. `sourceName` is the build's name, `file` the project-relative one. */
export interface ContractRef {
  name: string;
  sourceName: string;
  file: string;
  fullyQualifiedName: string;
  unit: CompilationUnit;
  output: SolcContractOutput;
}

export interface CompilerSettings {
  version: string;
  longVersion: string;
  optimizer: { enabled: boolean; runs: number };
  evmVersion: string | undefined;
}

export type RuntimeMatchKind = "exact" | "exact-except-immutables" | "metadata-stripped";

export interface RuntimeMatch {
  contract: string;
  fullyQualifiedName: string;
  file: string;
  match: RuntimeMatchKind;
}

// ---------------------------------------------------------------- loading (file system)

interface BuildInfoFile {
  _format: string;
  id: string;
  solcVersion: string;
  solcLongVersion: string;
  userSourceNameMap?: Record<string, string>;
  input: SolcInputJson;
}

interface BuildInfoOutputFile {
  _format: string;
  id: string;
  output: SolcOutputJson;
}

/** The file's JSON, and its bytes fed to `hash` (each byte read once). */
function readJson(file: string, hash?: Hash): unknown {
  try {
    const bytes = readFileSync(file);
    hash?.update(bytes);
    return JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new GatehouseError("FILE_INVALID", { file, path: "(file)", expected: "readable JSON" }, { cause });
  }
}

function isBuildInfo(v: unknown): v is BuildInfoFile {
  const o = v as Partial<BuildInfoFile> | null;
  return !!o && typeof o._format === "string" && o._format.startsWith("hh3-sol-build-info") && typeof o.solcVersion === "string" && !!o.input?.sources;
}

function isBuildInfoOutput(v: unknown): v is BuildInfoOutputFile {
  const o = v as Partial<BuildInfoOutputFile> | null;
  return !!o && typeof o._format === "string" && !!o.output?.contracts && !!o.output?.sources;
}

/**
 * Loads the build-info pairs in `dir` (Hardhat writes one per compilation job): every one, or only the
 * units `only` names (parsing build info is most of check's own time; it needs the target's unit and
 * the live code's).
 */
function infoFilesIn(dir: string, only?: ReadonlySet<string>): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.endsWith(".output.json"))
    .filter((f) => !only || only.has(f.slice(0, -".json".length)))
    .sort();
}

/** A separator between the two files' bytes in `contentHash`, so that bytes moved from one to the other change it. */
const OUTPUT_SEPARATOR = "\0gatehouse-build-output\0";

/**
 * The units `loadBuild(dir, only)` would load, each with the `contentHash` it would have, from the files'
 * bytes alone (no JSON parsing): what a cache of results over those units is looked up by. Undefined when
 * the directory or a file is missing (loadBuild then says what is wrong).
 */
export function hashBuildUnits(dir: string = DEFAULT_BUILD_INFO_DIR, only?: ReadonlySet<string>): { file: string; contentHash: string }[] | undefined {
  try {
    return infoFilesIn(dir, only).map((f) => {
      const hash = createHash("sha256").update(readFileSync(path.join(dir, f))).update(OUTPUT_SEPARATOR);
      return { file: f, contentHash: hash.update(readFileSync(path.join(dir, f.replace(/\.json$/, ".output.json")))).digest("hex") };
    });
  } catch {
    return undefined;
  }
}

export function loadBuild(dir: string = DEFAULT_BUILD_INFO_DIR, only?: ReadonlySet<string>): Build {
  if (!existsSync(dir)) {
    throw new GatehouseError("FILE_NOT_FOUND", { file: dir, what: "Hardhat build info; run `npx hardhat build`" });
  }
  const infoFiles = infoFilesIn(dir, only);
  const units = infoFiles.map((f) => {
    const infoPath = path.join(dir, f);
    const outputPath = path.join(dir, f.replace(/\.json$/, ".output.json"));
    const hash = createHash("sha256");
    const info = readJson(infoPath, hash);
    if (!isBuildInfo(info)) throw new GatehouseError("FILE_INVALID", { file: infoPath, path: "_format", expected: "a Hardhat 3 solc build info" });
    if (!existsSync(outputPath)) throw new GatehouseError("FILE_NOT_FOUND", { file: outputPath, what: `output of build ${info.id}` });
    hash.update(OUTPUT_SEPARATOR);
    const out = readJson(outputPath, hash);
    if (!isBuildInfoOutput(out)) throw new GatehouseError("FILE_INVALID", { file: outputPath, path: "_format", expected: "a Hardhat 3 solc build info output" });
    return { ...unitFromFiles(info, out), contentHash: hash.digest("hex") };
  });
  if (units.length === 0) {
    throw new GatehouseError("FILE_NOT_FOUND", { file: dir, what: "Hardhat build info; run `npx hardhat build`" });
  }
  return { dir, units };
}

function unitFromFiles(info: BuildInfoFile, out: BuildInfoOutputFile): CompilationUnit {
  return {
    id: info.id,
    solcVersion: info.solcVersion,
    solcLongVersion: info.solcLongVersion,
    input: info.input,
    output: out.output,
    roots: Object.values(info.userSourceNameMap ?? {}),
  };
}

// ---------------------------------------------------------------- names and files

/** `project/contracts/VaultV2.sol` -> `contracts/VaultV2.sol`; npm sources stay as they are. */
export function projectFile(sourceName: string): string {
  return sourceName.startsWith(PROJECT_PREFIX) ? sourceName.slice(PROJECT_PREFIX.length) : sourceName;
}

export function isProjectSource(sourceName: string): boolean {
  return sourceName.startsWith(PROJECT_PREFIX);
}

function allContracts(build: Build): ContractRef[] {
  return build.units.flatMap((unit) =>
    Object.entries(unit.output.contracts).flatMap(([sourceName, byName]) =>
      Object.entries(byName).map(([name, output]) => ({
        name,
        sourceName,
        file: projectFile(sourceName),
        fullyQualifiedName: `${sourceName}:${name}`,
        unit,
        output,
      })),
    ),
  );
}

/**
 * Finds a contract by simple name (`VaultV2`) or fully-qualified name. Every unit's output repeats its
 * dependencies, so a contract built as a root of its unit is preferred, then project sources.
 */
export function findContract(build: Build, name: string): ContractRef | undefined {
  const wanted = name.includes(":")
    ? allContracts(build).filter((c) => c.fullyQualifiedName === name || `${c.file}:${c.name}` === name)
    : allContracts(build).filter((c) => c.name === name);
  if (wanted.length === 0) return undefined;
  const rank = (c: ContractRef): number => (c.unit.roots.includes(c.sourceName) ? 0 : 2) + (isProjectSource(c.sourceName) ? 0 : 1);
  const best = Math.min(...wanted.map(rank));
  const top = wanted.filter((c) => rank(c) === best);
  const distinct = new Set(top.map((c) => c.fullyQualifiedName));
  if (distinct.size > 1) {
    throw new GatehouseError("USAGE", {
      message: `contract name '${name}' is ambiguous in the build (${[...distinct].map(projectFile).join(", ")}); use a fully-qualified name`,
    });
  }
  return top[0];
}

/** Like findContract, but a missing contract is bad input. */
export function requireContract(build: Build, name: string, where: { file?: string; path?: string } = {}): ContractRef {
  const ref = findContract(build, name);
  if (!ref) throw new GatehouseError("UNKNOWN_CONTRACT", { file: where.file ?? build.dir, path: where.path ?? "contract", name });
  return ref;
}

export function fullyQualifiedName(build: Build, name: string): string {
  return requireContract(build, name).fullyQualifiedName;
}

export function sourceFileOf(build: Build, name: string): string {
  return requireContract(build, name).file;
}

// ---------------------------------------------------------------- bytecode, layout, settings

function hex(object: string): string {
  return object.startsWith("0x") ? object.toLowerCase() : `0x${object.toLowerCase()}`;
}

/** The runtime (deployed) bytecode, 0x-prefixed; `0x` for abstract contracts and interfaces. */
export function runtimeCodeOf(ref: ContractRef): string {
  return hex(ref.output.evm.deployedBytecode.object);
}

export function runtimeBytecode(build: Build, name: string): string {
  return runtimeCodeOf(requireContract(build, name));
}

/** Size in bytes of 0x-prefixed hex code (link placeholders count as the 20 bytes they stand for). */
export function codeSize(code: string): number {
  return (code.length - 2) / 2;
}

/** solc's own storage layout output (hardhat-upgrades turns it on in every build). */
export function solcStorageLayout(build: Build, name: string): SolcStorageLayout | undefined {
  return requireContract(build, name).output.storageLayout;
}

export function compilerSettingsOf(unit: CompilationUnit): CompilerSettings {
  const optimizer = unit.input.settings.optimizer ?? {};
  return {
    version: unit.solcVersion,
    longVersion: unit.solcLongVersion,
    // solc's defaults when a field is absent: optimizer off, 200 runs.
    optimizer: { enabled: optimizer.enabled ?? false, runs: optimizer.runs ?? 200 },
    evmVersion: unit.input.settings.evmVersion,
  };
}

export function compilerSettings(build: Build, name: string): CompilerSettings {
  return compilerSettingsOf(requireContract(build, name).unit);
}

// ---------------------------------------------------------------- runtime code matching

/** Strips the CBOR metadata solc appends: its length is the last two bytes. */
export function stripMetadata(code: string): string {
  const body = hex(code).slice(2);
  if (body.length < 4) return `0x${body}`;
  const cborBytes = Number.parseInt(body.slice(-4), 16);
  const total = (cborBytes + 2) * 2;
  return total > body.length ? `0x${body}` : `0x${body.slice(0, body.length - total)}`;
}

/** Zeroes the ranges the compiler reserves for immutables, as they are zero in deployedBytecode. */
function maskImmutables(code: string, refs: SolcContractOutput["evm"]["deployedBytecode"]["immutableReferences"]): string {
  const ranges = Object.values(refs ?? {}).flat();
  if (ranges.length === 0) return code;
  const chars = hex(code).slice(2).split("");
  for (const { start, length } of ranges) {
    for (let i = start * 2; i < (start + length) * 2 && i < chars.length; i++) chars[i] = "0";
  }
  return `0x${chars.join("")}`;
}

const MATCH_ORDER: RuntimeMatchKind[] = ["exact", "exact-except-immutables", "metadata-stripped"];

function matchKind(candidate: ContractRef, onchain: string): RuntimeMatchKind | undefined {
  const { object, immutableReferences } = candidate.output.evm.deployedBytecode;
  const built = hex(object);
  if (built === "0x") return undefined;
  if (built === onchain) return "exact";
  // Immutables sit before the metadata, so the masked code can also be compared once stripped.
  const masked = maskImmutables(onchain, immutableReferences);
  if (built === masked) return "exact-except-immutables";
  const stripped = stripMetadata(built);
  return stripped !== "0x" && stripped === stripMetadata(masked) ? "metadata-stripped" : undefined;
}

/**
 * Which contract of the build has the given on-chain runtime code: byte-equal first, then equal except for
 * the immutables the constructor filled in (UUPSUpgradeable's `__self`), then equal once the CBOR
 * metadata is stripped (same code, different comments or paths). Project contracts win ties.
 */
export function findContractByRuntimeCode(build: Build, onchainCode: string): RuntimeMatch | undefined {
  const best = findContractRefByRuntimeCode(build, onchainCode);
  return best && { contract: best.ref.name, fullyQualifiedName: best.ref.fullyQualifiedName, file: best.ref.file, match: best.match };
}

/** Like findContractByRuntimeCode, with the contract of the exact build unit whose code matched. */
export function findContractRefByRuntimeCode(build: Build, onchainCode: string): { ref: ContractRef; match: RuntimeMatchKind } | undefined {
  const onchain = hex(onchainCode);
  if (onchain === "0x") return undefined;
  const candidates = allContracts(build)
    .map((c) => ({ c, kind: matchKind(c, onchain) }))
    .filter((m): m is { c: ContractRef; kind: RuntimeMatchKind } => m.kind !== undefined)
    .sort((a, b) => MATCH_ORDER.indexOf(a.kind) - MATCH_ORDER.indexOf(b.kind) || Number(!isProjectSource(a.c.sourceName)) - Number(!isProjectSource(b.c.sourceName)));
  const best = candidates[0];
  return best && { ref: best.c, match: best.kind };
}

// ---------------------------------------------------------------- source locations

export interface SourceLocation {
  file: string;
  line: number;
}

const lineStartsCache = new WeakMap<CompilationUnit, Map<string, number[]>>();

/** Byte offsets at which each line starts; solc `src` offsets count UTF-8 bytes, not UTF-16 units. */
export function lineStarts(content: string): number[] {
  const bytes = Buffer.from(content, "utf8");
  const starts = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
  return starts;
}

/** 1-based line of a byte offset, by binary search over the line starts. */
export function lineAtByte(starts: number[], byteOffset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= byteOffset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function sourceNameById(unit: CompilationUnit, id: number): string | undefined {
  for (const [name, s] of Object.entries(unit.output.sources)) if (s.id === id) return name;
  return undefined;
}

function startsOf(unit: CompilationUnit, sourceName: string): number[] {
  let perUnit = lineStartsCache.get(unit);
  if (!perUnit) lineStartsCache.set(unit, (perUnit = new Map()));
  let starts = perUnit.get(sourceName);
  if (!starts) perUnit.set(sourceName, (starts = lineStarts(unit.input.sources[sourceName]?.content ?? "")));
  return starts;
}

/** Turns a solc `src` ("start:length:sourceIndex") into a project-relative file and 1-based line. */
export function locate(unit: CompilationUnit, src: string): SourceLocation {
  const [start, , index] = src.split(":").map(Number);
  const sourceName = sourceNameById(unit, index);
  if (sourceName === undefined) return { file: "(unknown source)", line: 0 };
  return { file: projectFile(sourceName), line: lineAtByte(startsOf(unit, sourceName), start) };
}

/** The source name (with Hardhat's prefix) a `src` points into. */
export function sourceNameOfSrc(unit: CompilationUnit, src: string): string | undefined {
  return sourceNameById(unit, Number(src.split(":")[2]));
}
