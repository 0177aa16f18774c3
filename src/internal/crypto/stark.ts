/**
 * Stark-curve ECDSA, selectors and contract addresses on top of @scure/starknet (itself on @noble/curves): the same
 * functions starknet.js calls as `ec.starkCurve`, without starknet.js at run time.
 *
 * Signing is @scure/starknet's own. Verification computes the same equation as `ec.starkCurve.verify`
 * (R = h/s·G + r/s·P, accept when R.x mod n = r) over a public point decoded once per key and precomputed
 * (8-bit windows), which is what makes a devnet that verifies every signature fast. Starknet public keys are
 * x-coordinates only: the two points with that x are P and -P, and u2·(-P) = -(u2·P), so both parities are
 * checked from one multiplication.
 */
import * as curve from "@scure/starknet"

const Point = curve.ProjectivePoint
type Point = InstanceType<typeof Point>
const N = curve.CURVE.n
/** Stark ECDSA bounds r, w = s^-1 and message hashes to [0, 2^251). */
const MAX_VALUE = 2n ** 251n

const modN = (a: bigint) => ((a % N) + N) % N
const invN = (a: bigint): bigint => {
  let [t, newT, r, newR] = [0n, 1n, N, modN(a)]
  while (newR !== 0n) {
    const q = r / newR
    ;[t, newT] = [newT, t - q * newT]
    ;[r, newR] = [newR, r - q * newR]
  }
  return modN(t)
}

const CACHE_LIMIT = 4096
const points = new Map<bigint, Point | null>()

/** The precomputed curve point with this x-coordinate (either parity), or null when x is not on the curve. */
const pointOf = (x: bigint): Point | null => {
  const cached = points.get(x)
  if (cached !== undefined) return cached
  let point: Point | null = null
  try {
    point = Point.fromHex("02" + x.toString(16).padStart(64, "0"))
    point.assertValidity()
    point._setWindowSize(8)
  } catch {
    point = null
  }
  if (points.size >= CACHE_LIMIT) {
    const oldest = points.keys().next().value
    if (oldest !== undefined) points.delete(oldest)
  }
  points.set(x, point)
  return point
}

/** Verifies a Stark ECDSA signature against a public key given as its x-coordinate. */
export const verify = (msgHash: bigint, r: bigint, s: bigint, publicKeyX: bigint): boolean => {
  if (msgHash < 0n || msgHash >= MAX_VALUE) return false
  if (r < 1n || r >= MAX_VALUE || s < 1n || s >= N) return false
  const w = invN(s)
  if (w < 1n || w >= MAX_VALUE) return false
  const P = pointOf(publicKeyX)
  if (P === null) return false
  const a = Point.BASE.multiplyUnsafe(modN(msgHash * w))
  const b = P.multiplyUnsafe(modN(r * w))
  for (const R of [a.add(b), a.subtract(b)]) {
    if (R.equals(Point.ZERO)) continue
    if (modN(R.toAffine().x) === r) return true
  }
  return false
}

/** Signs a message hash (below 2^251) with a private key held as bytes. */
export const sign = (msgHash: bigint, privateKey: Uint8Array): { readonly r: bigint; readonly s: bigint } => {
  const signature = curve.sign("0x" + msgHash.toString(16), privateKey)
  return { r: signature.r, s: signature.s }
}

/** The Starknet public key (x-coordinate) of a private key held as bytes. */
export const publicKeyOf = (privateKey: Uint8Array): bigint => BigInt(curve.getStarkKey(privateKey))

/**
 * Builds the table of the generator's multiples that every public key is computed with (built on first use
 * otherwise: some 100 to 300 ms in one piece).
 */
export const precomputeGenerator = (): void => {
  curve.getStarkKey(new Uint8Array(32).fill(1))
}

/** The order of the curve's group: private keys lie in [1, N - 1]. */
export const CURVE_ORDER = N

/** starknet_keccak of an entrypoint name: its selector (starknet.js `hash.getSelectorFromName`). */
export const selectorOfName = (name: string): bigint => curve.keccak(new TextEncoder().encode(name))

/** Pedersen over `[...values, length]` from 0 (starknet.js `hash.computeHashOnElements`), yielding after each hash. */
function* pedersenChain(values: ReadonlyArray<bigint>): Generator<void, bigint> {
  let hash = 0n
  for (const value of [...values, BigInt(values.length)]) {
    hash = BigInt(curve.pedersen(hash, value))
    yield
  }
  return hash
}

/** 'STARKNET_CONTRACT_ADDRESS' as a short string. */
const CONTRACT_ADDRESS_PREFIX = 0x535441524b4e45545f434f4e54524143545f41444452455353n
/** Addresses are reduced below 2^251 - 256. */
const ADDRESS_BOUND = 2n ** 251n - 256n

/**
 * The address of a contract deployed from a class hash (starknet.js `hash.calculateContractAddressFromHash`):
 * Pedersen over the prefix, deployer, salt, class hash and the hash of the constructor's calldata.
 */
export const contractAddressFromHash = (
  salt: bigint,
  classHash: bigint,
  constructorCalldata: ReadonlyArray<bigint>,
  deployer: bigint
): bigint => {
  const steps = contractAddressSteps(salt, classHash, constructorCalldata, deployer)
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

/**
 * `contractAddressFromHash` one Pedersen hash at a time: it yields after each (an account's address takes eight,
 * each some milliseconds), so that a caller can let other work run in between.
 */
export function* contractAddressSteps(
  salt: bigint,
  classHash: bigint,
  constructorCalldata: ReadonlyArray<bigint>,
  deployer: bigint
): Generator<void, bigint> {
  const calldataHash = yield* pedersenChain(constructorCalldata)
  return (yield* pedersenChain([CONTRACT_ADDRESS_PREFIX, deployer, salt, classHash, calldataHash])) % ADDRESS_BOUND
}
