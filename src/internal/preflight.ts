/**
 * The chain's `session_allows` predicate, computed locally before anything is signed, with the precise typed error
 * for each refusal (the chain itself only says `Session: unauthorized selector`).
 */
import { BLOCKLISTED_ENTRYPOINTS } from "../Constants.js"
import {
  EntrypointNotAllowed,
  Expired,
  ForbiddenCall,
  MaxCallsExceeded,
  NotRegistered,
  type SessionRefusal
} from "../Errors.js"
import { callSelector, type Call, type Felt } from "../Schemas.js"
import { selectorOf } from "../Schemas.js"

const BLOCKLIST = new Map<string, string>(BLOCKLISTED_ENTRYPOINTS.map((name) => [selectorOf(name), name]))

const nameOf = (call: Call): string | undefined => (/^0x/i.test(call.entrypoint) ? BLOCKLIST.get(callSelector(call)) : call.entrypoint)

/** What the chain stores for a session, in `get_session_data`'s order. */
export interface StoredSession {
  readonly validUntil: number
  readonly maxCalls: number
  readonly callsUsed: number
  readonly allowedEntrypointsLen: number
}

export interface PreflightInput {
  readonly walletAddress: string
  readonly sessionPublicKey: Felt
  readonly stored: StoredSession
  /** Block time, seconds. */
  readonly now: number
  readonly calls: ReadonlyArray<Call>
  /** The allow-list, when known (the chain exposes only its length). */
  readonly allowedEntrypoints?: ReadonlyArray<Felt> | undefined
  /** Calls this process has already reserved beyond what the chain shows. */
  readonly callsUsed?: number
}

/** The refusal the chain would give these calls, in the spec's order; `undefined` when it would accept them. */
export const preflight = (input: PreflightInput): SessionRefusal | undefined => {
  const { stored, now, calls, sessionPublicKey } = input
  if (stored.validUntil === 0) {
    return new NotRegistered({ sessionPublicKey, walletAddress: input.walletAddress })
  }
  if (now > stored.validUntil) {
    return new Expired({ sessionPublicKey, validUntil: stored.validUntil, now })
  }
  const callsUsed = Math.max(stored.callsUsed, input.callsUsed ?? 0)
  if (callsUsed >= stored.maxCalls) {
    return new MaxCallsExceeded({ sessionPublicKey, maxCalls: stored.maxCalls, callsUsed })
  }
  for (const call of calls) {
    const selector = callSelector(call)
    const blocked = BLOCKLIST.get(selector)
    if (blocked !== undefined) {
      return new ForbiddenCall({ rule: "blocklist", selector, entrypoint: blocked, contractAddress: call.contractAddress })
    }
  }
  if (stored.allowedEntrypointsLen === 0) {
    const wallet = BigInt(input.walletAddress)
    for (const call of calls) {
      if (BigInt(call.contractAddress) === wallet) {
        const selector = callSelector(call)
        const entrypoint = nameOf(call)
        return new ForbiddenCall({
          rule: "self-call",
          selector,
          contractAddress: call.contractAddress,
          ...(entrypoint !== undefined ? { entrypoint } : {})
        })
      }
    }
  } else if (input.allowedEntrypoints !== undefined) {
    const allowed = new Set(input.allowedEntrypoints.map((s) => BigInt(s)))
    for (const call of calls) {
      const selector = callSelector(call)
      if (!allowed.has(BigInt(selector))) {
        const entrypoint = nameOf(call)
        return new EntrypointNotAllowed({ selector, ...(entrypoint !== undefined ? { entrypoint } : {}) })
      }
    }
  }
  return undefined
}
