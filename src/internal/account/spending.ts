/**
 * The account's spending policy, computed locally exactly as the contract computes it (u256 amounts, u64 window
 * arithmetic), so that an execute the chain would refuse for its amounts is refused before it is signed.
 */
import { SPENDING_ENTRYPOINTS } from "../../Constants.js"
import { InvalidInput, SpendingLimitExceeded } from "../../Errors.js"
import { callSelector, type Call, type Felt, selectorOf } from "../../Schemas.js"
import { lazily } from "./lazy.js"
import { toHex, U128_MAX, U64_MAX } from "../crypto/felt.js"

export const U256_MAX = 2n ** 256n - 1n

/** The selectors of the entrypoints the policy watches. */
export const TRACKED_SELECTORS: ReadonlySet<bigint> = lazily(() => new Set(SPENDING_ENTRYPOINTS.map((name) => BigInt(selectorOf(name)))))

/** A policy as `get_spending_policy` returns it, every field exact. */
export interface Policy {
  readonly maxPerCall: bigint
  readonly maxPerWindow: bigint
  readonly windowSeconds: bigint
  readonly spentInWindow: bigint
  readonly windowStart: bigint
}

export const NO_POLICY: Policy = { maxPerCall: 0n, maxPerWindow: 0n, windowSeconds: 0n, spentInWindow: 0n, windowStart: 0n }

const u256 = (low: bigint, high: bigint) => (high << 128n) + low

/**
 * Reads `get_spending_policy`'s 8 felts: `[max_per_call.low, .high, max_per_window.low, .high, window_seconds,
 * spent_in_window.low, .high, window_start]`. A shorter answer (an account without the extension) is no policy, as
 * the published SDK reads it.
 */
export const policyFromFelts = (felts: ReadonlyArray<string | bigint>): Policy => {
  if (felts.length < 8) return NO_POLICY
  const f = felts.map((x) => BigInt(x))
  return {
    maxPerCall: u256(f[0]!, f[1]!),
    maxPerWindow: u256(f[2]!, f[3]!),
    windowSeconds: f[4]!,
    spentInWindow: u256(f[5]!, f[6]!),
    windowStart: f[7]!
  }
}

/** A u256 as Cairo serialises it: `[low, high]`. */
export const splitU256 = (value: bigint): readonly [Felt, Felt] => [toHex(value & U128_MAX) as Felt, toHex(value >> 128n) as Felt]

/** A policy is enforced only when `max_per_window > 0`. */
export const isActive = (policy: Policy) => policy.maxPerWindow > 0n

/** `window_start + window_seconds` in u64, `undefined` when it overflows (the account panics on it). */
export const windowEnd = (windowStart: bigint, windowSeconds: bigint): bigint | undefined => {
  const end = windowStart + windowSeconds
  return end > U64_MAX ? undefined : end
}

/** What a policy leaves at block time `now`, with the account's lazy window reset applied. */
export interface Allowance {
  /** What the window has left now; `null` without a policy (no limit). */
  readonly remainingInWindow: bigint | null
  /**
   * The block time from which the full `maxPerWindow` is available again: the running window's end. `null` without
   * a policy, when the window is already over (the full amount is available now; the next tracked call opens a new
   * window), or when the window's end overflows u64 (then `remainingInWindow` is 0: nothing can be spent until the
   * owner sets the policy again).
   */
  readonly windowResetsAt: number | null
  /** The window's end overflows u64: every tracked call of the token panics on chain. */
  readonly overflows: boolean
}

export const allowance = (policy: Policy, now: bigint): Allowance => {
  if (!isActive(policy)) return { remainingInWindow: null, windowResetsAt: null, overflows: false }
  const overflowed = { remainingInWindow: 0n, windowResetsAt: null, overflows: true }
  const end = windowEnd(policy.windowStart, policy.windowSeconds)
  if (end === undefined) return overflowed
  if (now >= end) {
    // The next tracked call resets the window at its own time; that overflows too when now + window_seconds does.
    if (windowEnd(now, policy.windowSeconds) === undefined) return overflowed
    return { remainingInWindow: policy.maxPerWindow, windowResetsAt: null, overflows: false }
  }
  const left = policy.maxPerWindow - policy.spentInWindow
  return { remainingInWindow: left > 0n ? left : 0n, windowResetsAt: Number(end), overflows: false }
}

/** The tokens whose policies matter for these calls: targets of tracked entrypoints, in first-use order. */
export const trackedTokens = (calls: ReadonlyArray<Call>): ReadonlyArray<Felt> => {
  const seen = new Map<bigint, Felt>()
  for (const call of calls) {
    if (!TRACKED_SELECTORS.has(BigInt(callSelector(call)))) continue
    const token = BigInt(call.contractAddress)
    if (!seen.has(token)) seen.set(token, toHex(token) as Felt)
  }
  return [...seen.values()]
}

const invalidCalldata = (index: number, rule: string) => {
  const path = `calls.${index}.calldata`
  return new InvalidInput({ path, rule, issues: [{ path, rule }] })
}

/**
 * The account's spending check over a multicall, in call order, at block time `now`: the refusal it would give, or
 * `undefined`. `policies` maps a token (as a bigint) to its policy for this session.
 */
export const checkSpending = (input: {
  readonly sessionPublicKey: string
  readonly calls: ReadonlyArray<Call>
  readonly policies: ReadonlyMap<bigint, Policy>
  readonly now: bigint
  /**
   * The multicalls of payloads sent from here that can still execute: counted first, as if each ran before these
   * calls (the account applies each whole or not at all).
   */
  readonly pending?: ReadonlyArray<ReadonlyArray<Call>>
}): SpendingLimitExceeded | InvalidInput | undefined => {
  const { now } = input
  const policies = new Map(input.policies)
  for (const multicall of input.pending ?? []) {
    const after = applyAll(multicall, policies, now)
    if (after !== undefined) for (const [token, policy] of after) policies.set(token, policy)
  }
  return checkCalls({ ...input, policies })
}

/** The policies after a multicall the account accepts, or `undefined` when it refuses it. */
const applyAll = (calls: ReadonlyArray<Call>, policies: ReadonlyMap<bigint, Policy>, now: bigint) => {
  const next = new Map<bigint, Policy>()
  for (const call of calls) {
    if (!TRACKED_SELECTORS.has(BigInt(callSelector(call)))) continue
    const token = BigInt(call.contractAddress)
    const policy = next.get(token) ?? policies.get(token)
    if (policy === undefined || !isActive(policy)) continue
    if (call.calldata.length < 3) return undefined
    const [low, high] = [BigInt(call.calldata[1]!), BigInt(call.calldata[2]!)]
    if (low > U128_MAX || high > U128_MAX) return undefined
    const amount = u256(low, high)
    if (amount > policy.maxPerCall) return undefined
    const end = windowEnd(policy.windowStart, policy.windowSeconds)
    if (end === undefined) return undefined
    const fresh = now >= end
    const spent = (fresh ? 0n : policy.spentInWindow) + amount
    if (spent > policy.maxPerWindow) return undefined
    next.set(token, { ...policy, spentInWindow: spent, windowStart: fresh ? now : policy.windowStart })
  }
  return next
}

const checkCalls = (input: {
  readonly sessionPublicKey: string
  readonly calls: ReadonlyArray<Call>
  readonly policies: ReadonlyMap<bigint, Policy>
  readonly now: bigint
}): SpendingLimitExceeded | InvalidInput | undefined => {
  const { now } = input
  // Each token's window as the account updates it while it goes through the calls.
  const running = new Map<bigint, { spent: bigint; windowStart: bigint; asked: bigint }>()
  for (const [index, call] of input.calls.entries()) {
    if (!TRACKED_SELECTORS.has(BigInt(callSelector(call)))) continue
    const token = BigInt(call.contractAddress)
    const policy = input.policies.get(token)
    if (policy === undefined || !isActive(policy)) continue
    if (call.calldata.length < 3) {
      return invalidCalldata(index, "a transfer or approval of a token with a spending policy needs [recipient, amount.low, amount.high]")
    }
    const low = BigInt(call.calldata[1]!)
    const high = BigInt(call.calldata[2]!)
    if (low > U128_MAX || high > U128_MAX) {
      return invalidCalldata(index, "the amount's low and high felts must each fit in u128")
    }
    const amount = u256(low, high)
    const before = allowance(policy, now)
    const refusal = (limit: "perCall" | "perWindow", limitAmount: bigint, requested: bigint, overflow = before.overflows) =>
      new SpendingLimitExceeded({
        sessionPublicKey: input.sessionPublicKey,
        token: toHex(token),
        limit,
        limitAmount,
        requested,
        remaining: before.remainingInWindow ?? 0n,
        resetsAt: overflow ? null : before.windowResetsAt ?? Number(now)
      })
    if (amount > policy.maxPerCall) return refusal("perCall", policy.maxPerCall, amount)
    const state = running.get(token) ?? { spent: policy.spentInWindow, windowStart: policy.windowStart, asked: 0n }
    const end = windowEnd(state.windowStart, policy.windowSeconds)
    if (end === undefined) return refusal("perWindow", policy.maxPerWindow, state.asked + amount, true)
    if (now >= end) {
      state.spent = 0n
      state.windowStart = now
    }
    state.asked += amount
    if (state.spent + amount > policy.maxPerWindow) return refusal("perWindow", policy.maxPerWindow, state.asked)
    state.spent += amount
    running.set(token, state)
  }
  return undefined
}

/**
 * Whether a `set_spending_policy` included at block time `latestInclusion` (its window starts then) or earlier
 * would leave a window whose end overflows u64, i.e. a policy that refuses every tracked call.
 */
export const windowOverflowsAt = (windowSeconds: bigint, latestInclusion: bigint): boolean =>
  windowEnd(latestInclusion, windowSeconds) === undefined
