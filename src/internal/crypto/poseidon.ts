/**
 * Poseidon (Hades, width 3) specialised for Starknet's parameters: S-box x^3, 8 full rounds around 83 partial ones,
 * and the MDS matrix `[[3,1,1],[1,-1,1],[1,1,-2]]`. With s = a + b + c that matrix maps (a, b, c) to
 * (s + 2a, s - 2b, s - 3c): the mixing layer is additions and doublings, and only the S-box multiplies (the generic
 * permutation multiplies by the matrix's entries every round).
 *
 * The partial rounds apply the S-box to the last element only, so their round constants on the other two elements
 * pass through it unchanged and can be pushed, through the matrix, into the next round's constants: each partial
 * round then adds one constant, and what is left after the last partial round joins the next full round's. The
 * transformed constants are derived at load time from @scure/starknet's own round constants (not copied here), and
 * the result is checked against @scure/starknet's permutation once at load time.
 *
 * Those rounds run in WebAssembly (`poseidon-wasm.ts`), made at the first hash and checked then; where WebAssembly
 * is missing or that check fails, they run here in bigints:
 *
 * Field elements are kept as unreduced bigints between reductions, because a bigint remainder costs several
 * multiplications: the additions let values grow by a few bits a round, and each S-box output is reduced once (the
 * cube of an unreduced input, then one remainder), the other two elements of a partial round every eight rounds.
 * Remainders of negative values stay negative (still the right residue); outputs are normalised to [0, p).
 */
import { poseidonHashMany as genericHashMany, poseidonSmall } from "@scure/starknet"
import { instantiate, type WasmPoseidon } from "./poseidon-wasm.js"

/** Starknet's field prime, 2^251 + 17·2^192 + 1. */
const P = 2n ** 251n + 17n * 2n ** 192n + 1n

const FULL_ROUNDS = 8
const PARTIAL_ROUNDS = 83
const HALF_FULL = FULL_ROUNDS / 2

const mod = (a: bigint) => {
  const r = a % P
  return r < 0n ? r + P : r
}

/** The matrix product, exactly (used at load time only). */
const mds = (a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] => {
  const s = a + b + c
  return [mod(s + 2n * a), mod(s - 2n * b), mod(s - 3n * c)]
}

interface Constants {
  /** Three per full round, the first full round after the partial ones including what they carried over. */
  readonly full: ReadonlyArray<readonly [bigint, bigint, bigint]>
  /** One per partial round, added to the last element. */
  readonly partial: ReadonlyArray<bigint>
}

const derive = (rc: ReadonlyArray<ReadonlyArray<bigint>>): Constants => {
  if (rc.length !== FULL_ROUNDS + PARTIAL_ROUNDS || rc.some((row) => row.length !== 3)) {
    throw new Error("@scure/starknet's Poseidon round constants are not Starknet's (91 rounds of 3)")
  }
  const row = (i: number): [bigint, bigint, bigint] => [mod(rc[i]![0]!), mod(rc[i]![1]!), mod(rc[i]![2]!)]
  const full: Array<[bigint, bigint, bigint]> = []
  for (let i = 0; i < HALF_FULL; i++) full.push(row(i))
  const partial: Array<bigint> = []
  let carry: [bigint, bigint, bigint] = [0n, 0n, 0n]
  for (let i = HALF_FULL; i < HALF_FULL + PARTIAL_ROUNDS; i++) {
    const [c0, c1, c2] = row(i)
    const a = mod(c0 + carry[0])
    const b = mod(c1 + carry[1])
    partial.push(mod(c2 + carry[2]))
    // (a, b, 0) goes through the S-box of the last element untouched, then through the matrix.
    carry = mds(a, b, 0n)
  }
  for (let i = HALF_FULL + PARTIAL_ROUNDS; i < FULL_ROUNDS + PARTIAL_ROUNDS; i++) {
    const [c0, c1, c2] = row(i)
    full.push(i === HALF_FULL + PARTIAL_ROUNDS ? [mod(c0 + carry[0]), mod(c1 + carry[1]), mod(c2 + carry[2])] : [c0, c1, c2])
  }
  return { full, partial }
}

const { full: FULL, partial: PARTIAL } = derive(poseidonSmall.roundConstants)

/** The Hades permutation of (a, b, c) in bigints; inputs are any bigints (read modulo p), outputs in [0, p). */
const bigintPermute = (a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] => {
  let s0 = a
  let s1 = b
  let s2 = c
  let t: bigint
  let k: readonly [bigint, bigint, bigint]
  for (let r = 0; r < HALF_FULL; r++) {
    k = FULL[r]!
    s0 += k[0]
    s1 += k[1]
    s2 += k[2]
    s0 = (s0 * s0 * s0) % P
    s1 = (s1 * s1 * s1) % P
    s2 = (s2 * s2 * s2) % P
    t = s0 + s1 + s2
    s0 = t + (s0 << 1n)
    s1 = t - (s1 << 1n)
    s2 = t - (s2 << 1n) - s2
  }
  for (let r = 0; r < PARTIAL_ROUNDS; r++) {
    s2 += PARTIAL[r]!
    s2 = (s2 * s2 * s2) % P
    t = s0 + s1 + s2
    s0 = t + (s0 << 1n)
    s1 = t - (s1 << 1n)
    s2 = t - (s2 << 1n) - s2
    // s0 and s1 grow by at most 3 bits a round between S-boxes: reduce them now and then.
    if ((r & 7) === 7) {
      s0 %= P
      s1 %= P
    }
  }
  for (let r = HALF_FULL; r < FULL_ROUNDS; r++) {
    k = FULL[r]!
    s0 += k[0]
    s1 += k[1]
    s2 += k[2]
    s0 = (s0 * s0 * s0) % P
    s1 = (s1 * s1 * s1) % P
    s2 = (s2 * s2 * s2) % P
    t = s0 + s1 + s2
    s0 = t + (s0 << 1n)
    s1 = t - (s1 << 1n)
    s2 = t - (s2 << 1n) - s2
  }
  return [mod(s0), mod(s1), mod(s2)]
}

/** Poseidon of two felts, as @scure/starknet's `poseidonHash`. */
export const poseidonHash = (x: bigint, y: bigint): bigint => permutation(x, y, 2n)[0]

/** Poseidon of one felt, as @scure/starknet's `poseidonHashSingle`. */
export const poseidonHashSingle = (x: bigint): bigint => permutation(x, 0n, 1n)[0]

/**
 * Poseidon of a sequence, as @scure/starknet's `poseidonHashMany`: absorbed two at a time after padding with 1 and
 * then 0 to an even length.
 */
export const poseidonHashMany = (values: ReadonlyArray<bigint>): bigint => hashManyFrom(EMPTY_SPONGE, values)

/** The sponge's three elements between absorptions: what `absorb` returns and `hashManyFrom` resumes from. */
export type Sponge = readonly [bigint, bigint, bigint]

/** The sponge before anything is absorbed. */
export const EMPTY_SPONGE: Sponge = [0n, 0n, 0n]

/**
 * The sponge after absorbing an even number of `values` into `state`, two at a time, without the padding: the
 * state `poseidonHashMany` reaches after that prefix of its input, to resume from with `hashManyFrom`.
 */
export const absorb = (state: Sponge, values: ReadonlyArray<bigint>): Sponge => {
  if (values.length % 2 !== 0) throw new Error("absorb takes an even number of values")
  const wasm = wasmInUse()
  if (wasm !== undefined) return wasm.absorb(state, values)
  let [s0, s1, s2] = state
  for (let i = 0; i < values.length; i += 2) [s0, s1, s2] = permutation(s0 + values[i]!, s1 + values[i + 1]!, s2)
  return [s0, s1, s2]
}

/**
 * `poseidonHashMany(prefix ++ values)` given `state = absorb(EMPTY_SPONGE, prefix)`: the rest is absorbed and padded
 * exactly as `poseidonHashMany` pads its whole input, so a prefix shared by many inputs is absorbed once.
 */
export const hashManyFrom = (state: Sponge, values: ReadonlyArray<bigint>): bigint => {
  const wasm = wasmInUse()
  if (wasm !== undefined) return wasm.hashManyFrom(state, values)
  let [s0, s1, s2] = state
  const n = values.length
  for (let i = 0; i <= n; i += 2) {
    s0 += i < n ? values[i]! : 1n
    s1 += i + 1 < n ? values[i + 1]! : i + 1 === n ? 1n : 0n
    ;[s0, s1, s2] = permutation(s0, s1, s2)
  }
  return s0
}

/** Whether a permutation agrees with @scure/starknet's on a few fixed inputs (checked once, before it is used). */
const agrees = (permutation: (a: bigint, b: bigint, c: bigint) => [bigint, bigint, bigint]): boolean => {
  const inputs: ReadonlyArray<readonly [bigint, bigint, bigint]> = [
    [0n, 0n, 0n],
    [1n, 2n, 3n],
    [P - 1n, P - 2n, 2n ** 250n + 12345n]
  ]
  return inputs.every((input) => {
    const ours = permutation(...input)
    const theirs = poseidonSmall([...input])
    return ours[0] === theirs[0] && ours[1] === theirs[1] && ours[2] === theirs[2]
  })
}

/**
 * True when the specialised permutation is in use. Should @scure/starknet's parameters ever stop being the ones this
 * module is written for, hashing falls back to its generic permutation rather than giving other hashes.
 */
export const specialised: boolean = agrees(bigintPermute)

/**
 * The WebAssembly permutation, made at the first hash that asks for it (writing its module out takes some
 * milliseconds, which an import that never hashes does not pay), and kept only if it agrees with @scure/starknet's
 * permutation and its hash of many; `undefined` where it is missing or disagrees. `null`: not made yet.
 */
let compiled: WasmPoseidon | undefined | null = null
const made = (): WasmPoseidon | undefined => {
  if (compiled === null) {
    const candidate = specialised ? instantiate(FULL, PARTIAL) : undefined
    const many = [P - 1n, 0n, 1n, 2n ** 251n, 7n]
    compiled = candidate !== undefined && agrees(candidate.permute) && candidate.hashManyFrom(EMPTY_SPONGE, many) === genericHashMany(many)
      ? candidate
      : undefined
  }
  return compiled
}

type Implementation = "wasm" | "bigint" | "generic"
/** The implementation asked for (`_use`); `implementation()` is the one that hashes. */
let requested: Implementation = "wasm"

/**
 * Which permutation hashes: `"wasm"`, `"bigint"` (the specialised one in bigints, where the WebAssembly one is not
 * available) or `"generic"` (@scure/starknet's, where the specialised rounds disagree with it).
 */
export const implementation = (): Implementation =>
  !specialised || requested === "generic" ? "generic" : requested === "wasm" && made() !== undefined ? "wasm" : "bigint"

/** The WebAssembly permutation when it is the one in use. */
const wasmInUse = (): WasmPoseidon | undefined => (implementation() === "wasm" ? made() : undefined)

const generic = (values: ReadonlyArray<bigint>): bigint => genericHashMany(values as Array<bigint>)
const genericPermute = (a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] => {
  const [x, y, z] = poseidonSmall([a, b, c].map((v) => ((v % P) + P) % P))
  return [x!, y!, z!]
}

/** The permutation in use: the WebAssembly one, the bigint one, or @scure/starknet's generic one. */
const permutation = (a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] => {
  const which = implementation()
  return which === "wasm" ? made()!.permute(a, b, c) : which === "bigint" ? bigintPermute(a, b, c) : genericPermute(a, b, c)
}

/** The Hades permutation of (a, b, c); inputs are any bigints (read modulo p), outputs in [0, p). */
export const permute = permutation

/** `poseidonHashMany`, or @scure/starknet's generic one if the load-time check failed. */
export const hashMany = (values: ReadonlyArray<bigint>): bigint => (implementation() === "generic" ? generic(values) : poseidonHashMany(values))

/**
 * Benchmarks and tests only: route every hash of the library and the devnet through one implementation, to measure
 * (or compare) them in one run. `"wasm"` falls back to the bigint one where the WebAssembly one is not available.
 */
export const _use = (which: Implementation): void => {
  requested = which
}

/** Benchmarks only: `_use("generic")`, or back to the fastest one. */
export const _useGeneric = (on: boolean): void => _use(on ? "generic" : "wasm")
