/** The devnet's transactions: what they carry, their events and outcome, and their INVOKE v3 hash (SNIP-8). */
import type { OutsideCall } from "../OutsideExecution.js"
import { encodeShortString } from "../internal/crypto/felt.js"
import * as Poseidon from "../internal/crypto/poseidon.js"
import { poseidon } from "./blocks.js"

export interface ChainEvent {
  readonly fromAddress: bigint
  readonly keys: ReadonlyArray<bigint>
  readonly data: ReadonlyArray<bigint>
}

/** A resource's bound in an INVOKE v3: at most `maxAmount` units (u64) at `maxPricePerUnit` (u128) each. */
export interface ResourceBound {
  readonly maxAmount: bigint
  readonly maxPricePerUnit: bigint
}

/**
 * The fields of an INVOKE v3 beyond sender, calldata, nonce and signature, as SNIP-8 hashes them: resource bounds,
 * tip, paymaster data, account deployment data and the data-availability modes.
 */
export interface InvokeV3Fields {
  readonly resourceBounds: { readonly l1Gas: ResourceBound; readonly l2Gas: ResourceBound; readonly l1DataGas: ResourceBound }
  readonly tip: bigint
  readonly paymasterData: ReadonlyArray<bigint>
  readonly accountDeploymentData: ReadonlyArray<bigint>
  readonly nonceDataAvailabilityMode: "L1" | "L2"
  readonly feeDataAvailabilityMode: "L1" | "L2"
}

const ZERO_BOUND: ResourceBound = { maxAmount: 0n, maxPricePerUnit: 0n }
/** Zero bounds and tip, no paymaster or deployment data, L1 modes: what the devnet's relayer sends (gas is free). */
export const ZERO_FEE_FIELDS: InvokeV3Fields = {
  resourceBounds: { l1Gas: ZERO_BOUND, l2Gas: ZERO_BOUND, l1DataGas: ZERO_BOUND },
  tip: 0n,
  paymasterData: [],
  accountDeploymentData: [],
  nonceDataAvailabilityMode: "L1",
  feeDataAvailabilityMode: "L1"
}

export type TxPayload =
  | { readonly kind: "outside"; readonly relayer: bigint; readonly account: bigint; readonly calldata: ReadonlyArray<bigint> }
  | {
    readonly kind: "invoke"
    readonly account: bigint
    readonly calls: ReadonlyArray<OutsideCall>
    readonly signature: ReadonlyArray<bigint>
    readonly nonce: bigint
    readonly fields: InvokeV3Fields
    /**
     * A query version (`2^128 + 3`): what fee estimates and simulations send. It is hashed with that version, so
     * its signature can never be replayed as the transaction itself.
     */
    readonly query?: boolean
  }

export interface Tx {
  readonly hash: bigint
  readonly payload: TxPayload
  /** The account that sends the INVOKE transaction (the relayer for an outside execution). */
  readonly sender: bigint
  /** The sender's transaction nonce. */
  readonly nonce: bigint
  /** The INVOKE's calldata: what the sender's `__execute__` receives, a serialized `Array<Call>`. */
  readonly calldata: ReadonlyArray<bigint>
  /** The outside-execution nonce of a relayed transaction. */
  readonly outsideNonce?: bigint
  execution?: "SUCCEEDED" | "REVERTED"
  revertReason?: string
  /** Dropped at inclusion because its validation failed (the state moved since it was accepted). */
  rejected?: string
  events: Array<ChainEvent>
  /** The gas it used when its block closed (the devnet's model, `gasOf`). */
  gas?: Gas
  /** The frames it ran at top level when its block closed, when it succeeded (`starknet_traceTransaction`). */
  trace?: ReadonlyArray<import("./chain.js").Frame>
  blockNumber?: number
  holdUntil: number
  /**
   * Until then (the node's clock, ms) the node does not know it: error 29, and out of the pre-confirmed view
   * (`submissionHidden`); then `CANDIDATE` until `preConfirmedAtMillis` (`candidateFor`).
   */
  visibleAtMillis?: number
  preConfirmedAtMillis?: number
}

/** Gas a transaction used, by resource. */
export interface Gas {
  readonly l1Gas: bigint
  readonly l1DataGas: bigint
  readonly l2Gas: bigint
}

/**
 * The devnet's gas model, deterministic and simple: L2 gas of 100,000 per transaction (validation and the
 * protocol's checks), 1,000 per felt of calldata and signature and 2,000 per event; L1 data gas of 128 per
 * contract whose storage the transaction wrote (its share of the state diff); no L1 gas (no messages to L1).
 * Every price is zero (block headers say so), so every fee is 0.
 */
export const gasOf = (felts: number, events: number, written: number): Gas => ({
  l1Gas: 0n,
  l1DataGas: 128n * BigInt(written),
  l2Gas: 100_000n + 1_000n * BigInt(felts) + 2_000n * BigInt(events)
})

/** The price of each resource, in FRI per unit: the devnet charges no gas. */
export const GAS_PRICES: Gas = { l1Gas: 0n, l1DataGas: 0n, l2Gas: 0n }

/** What gas costs at `GAS_PRICES`, in FRI. */
export const feeOf = (g: Gas) => g.l1Gas * GAS_PRICES.l1Gas + g.l1DataGas * GAS_PRICES.l1DataGas + g.l2Gas * GAS_PRICES.l2Gas

/** The version a fee estimate or a simulation sends for an INVOKE v3 (`2^128 + 3`). */
export const QUERY_VERSION_3 = (1n << 128n) + 3n

const INVOKE_PREFIX = encodeShortString("invoke")
/** Resource names of an INVOKE v3's bounds, as SNIP-8 encodes them (`name << 192 | max_amount << 128 | max_price`). */
const [L1_GAS, L2_GAS, L1_DATA] = ["L1_GAS", "L2_GAS", "L1_DATA"].map((name) => encodeShortString(name) << 192n) as [bigint, bigint, bigint]
const bound = (name: bigint, b: ResourceBound) => name | (b.maxAmount << 128n) | b.maxPricePerUnit
const daMode = (mode: "L1" | "L2") => (mode === "L1" ? 0n : 1n)
const feeHash = (f: InvokeV3Fields) =>
  poseidon([f.tip, bound(L1_GAS, f.resourceBounds.l1Gas), bound(L2_GAS, f.resourceBounds.l2Gas), bound(L1_DATA, f.resourceBounds.l1DataGas)])
const ZERO_FEE_HASH = feeHash(ZERO_FEE_FIELDS)
/** Poseidon of no values: the paymaster and account-deployment data of every transaction the relayer sends. */
const EMPTY_HASH = poseidon([])
const listHash = (values: ReadonlyArray<bigint>) => (values.length === 0 ? EMPTY_HASH : poseidon(values))

/** Sponge states kept for prefixes that recur (the relayer's transaction header, a wallet's calldata head). */
const PREFIXES_KEPT = 4096
const prefixes = new Map<string, Poseidon.Sponge>()
/** The prefix each kind found last: a relayer's executes for one wallet all share theirs, and then build no key. */
const lastPrefix = new Map<string, { readonly parts: ReadonlyArray<bigint>; readonly state: Poseidon.Sponge }>()
/**
 * The sponge after absorbing `values()`, a prefix of the `kind` that `parts` identify (the values themselves, or
 * what they are computed from).
 */
const prefixState = (kind: string, parts: ReadonlyArray<bigint>, values: () => ReadonlyArray<bigint>): Poseidon.Sponge => {
  const last = lastPrefix.get(kind)
  if (last !== undefined && last.parts.length === parts.length && last.parts.every((part, i) => part === parts[i])) return last.state
  const key = `${kind}:${parts.join(":")}`
  let state = prefixes.get(key)
  if (state === undefined) {
    state = Poseidon.absorb(Poseidon.EMPTY_SPONGE, values())
    if (prefixes.size >= PREFIXES_KEPT) prefixes.delete(prefixes.keys().next().value!)
    prefixes.set(key, state)
  }
  lastPrefix.set(kind, { parts, state })
  return state
}

/**
 * Poseidon of an INVOKE's calldata. A serialized call array of one call opens with `[1, to, selector, length]`,
 * the same four values for every execute a relayer sends for one wallet: their absorption is kept, and only the
 * rest is absorbed per transaction. The same hash as `poseidon(calldata)`, bit for bit.
 */
const calldataHash = (calldata: ReadonlyArray<bigint>): bigint => {
  if (calldata.length < 4) return poseidon(calldata)
  const head = calldata.slice(0, 4)
  return Poseidon.hashManyFrom(prefixState("c", head, () => head), calldata.slice(4))
}

let plain = false
/**
 * Benchmarks only: hash every INVOKE v3 with the formula applied in one piece (no prefix kept), as before the
 * relayer's hash was specialised, to measure both in one run.
 */
export const _usePlainInvokeHash = (on: boolean): void => {
  plain = on
}

const plainInvokeV3Hash = (chainId: bigint, sender: bigint, nonce: bigint, calldata: ReadonlyArray<bigint>, fields: InvokeV3Fields, version: bigint) =>
  poseidon([
    INVOKE_PREFIX,
    version,
    sender,
    fields === ZERO_FEE_FIELDS ? ZERO_FEE_HASH : feeHash(fields),
    poseidon(fields.paymasterData),
    chainId,
    nonce,
    (daMode(fields.nonceDataAvailabilityMode) << 32n) | daMode(fields.feeDataAvailabilityMode),
    poseidon(fields.accountDeploymentData),
    poseidon(calldata)
  ])

/**
 * The INVOKE v3 transaction hash (SNIP-8): Poseidon of `"invoke"`, version 3, the sender, the hash of tip and
 * resource bounds, of the paymaster data, the chain id, the nonce, the data-availability modes
 * (`nonce_mode << 32 | fee_mode`), the hash of the account deployment data and of the calldata. What starknet.js
 * computes and what OpenZeppelin's account verifies an owner signature against.
 *
 * Every transaction a sender sends with the same fields on one chain opens with the same six values (the fee
 * fields' hash among them): their absorption is kept per sender, chain, version and fields, and only the nonce, the
 * modes and the two data hashes are absorbed per transaction; with the calldata's head kept too (`calldataHash`), a
 * relayed execute costs 12 permutations instead of 19, and a simulated invoke with the same bounds as the last 5
 * instead of 11. The hash is the formula's, bit for bit.
 */
export const invokeV3Hash = (
  chainId: bigint,
  sender: bigint,
  nonce: bigint,
  calldata: ReadonlyArray<bigint>,
  fields: InvokeV3Fields = ZERO_FEE_FIELDS,
  version: bigint = 3n
): bigint => {
  if (plain) return plainInvokeV3Hash(chainId, sender, nonce, calldata, fields, version)
  const modes = (daMode(fields.nonceDataAvailabilityMode) << 32n) | daMode(fields.feeDataAvailabilityMode)
  const { l1Gas, l2Gas, l1DataGas } = fields.resourceBounds
  const parts = fields === ZERO_FEE_FIELDS
    ? [chainId, sender, version]
    : [chainId, sender, version, fields.tip, l1Gas.maxAmount, l1Gas.maxPricePerUnit, l2Gas.maxAmount, l2Gas.maxPricePerUnit,
      l1DataGas.maxAmount, l1DataGas.maxPricePerUnit, ...fields.paymasterData]
  const header = prefixState("h", parts, () => [
    INVOKE_PREFIX,
    version,
    sender,
    fields === ZERO_FEE_FIELDS ? ZERO_FEE_HASH : feeHash(fields),
    listHash(fields.paymasterData),
    chainId
  ])
  return Poseidon.hashManyFrom(header, [nonce, modes, listHash(fields.accountDeploymentData), calldataHash(calldata)])
}
