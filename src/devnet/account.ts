/**
 * The session-account contract (class `v33`): its storage and its entrypoints with the rules the spec states (check
 * order, revert strings): owner-only entrypoints, the session rules, `execute_from_outside_v2`, `__validate__` and
 * `__execute__` of its own invoke, the spending policy, the views. The chain it runs on is reached only through an
 * `AccountContext` (journaled writes, events, the transaction's info, calls to other contracts).
 */
import { ANY_CALLER, BLOCKLISTED_ENTRYPOINTS, INTERFACE_IDS, SPENDING_ENTRYPOINTS, VALID } from "../Constants.js"
import { directSessionHash, messageHash, type OutsideCall, type OutsideExecution, parseCallArray } from "../OutsideExecution.js"
import type { Felt } from "../Schemas.js"
import { encodeShortString, toHex, U128_MAX, U64_MAX } from "../internal/crypto/felt.js"
import * as stark from "../internal/crypto/stark.js"
import { params, serializeResults, split } from "./calldata.js"
import { Revert } from "./revert.js"
import { EVENT, S, sel } from "./selectors.js"
import type { TokenContext } from "./token.js"

const BLOCKLIST = new Set(BLOCKLISTED_ENTRYPOINTS.map(sel))
const SPENDING = new Set(SPENDING_ENTRYPOINTS.map(sel))
const ANY = BigInt(ANY_CALLER)
/** ISRC5 itself: OpenZeppelin's SRC5 component answers it whatever was registered. */
export const ISRC5_ID = 0x3f918d17e5ee77373b56385708f855659a07f75997f365cf87748628532a055n
const SUPPORTED_INTERFACES = new Set([ISRC5_ID, ...Object.values(INTERFACE_IDS).map(BigInt)])
const VALID_FELT = BigInt(VALID)

export interface SessionEntry {
  validUntil: bigint
  maxCalls: bigint
  callsUsed: bigint
  allowed: Array<bigint>
}
export interface Policy {
  maxPerCall: bigint
  maxPerWindow: bigint
  windowSeconds: bigint
  spent: bigint
  windowStart: bigint
}
export interface Account {
  readonly kind: "account"
  publicKey: bigint
  /** The protocol's transaction nonce of the account (the chain checks and bumps it). */
  nonce: bigint
  readonly sessions: Map<bigint, SessionEntry>
  readonly usedNonces: Set<bigint>
  readonly policies: Map<string, Policy>
}

/** A fresh account's storage: the owner key, nothing else. */
export const newAccount = (publicKey: bigint): Account => ({
  kind: "account",
  publicKey,
  nonce: 0n,
  sessions: new Map(),
  usedNonces: new Set(),
  policies: new Map()
})

/** A copy that later writes do not reach: entries are replaced, never mutated, so copying the collections is enough. */
export const copyAccount = (acc: Account): Account => ({
  ...acc,
  sessions: new Map(acc.sessions),
  usedNonces: new Set(acc.usedNonces),
  policies: new Map(acc.policies)
})

/** What the account's code may do to the chain and read of it. */
export interface AccountContext extends TokenContext {
  readonly chainId: bigint
  /** The block timestamp the executing code sees (`get_block_timestamp()`). */
  readonly now: () => bigint
  /** The nonce of the executing transaction (`get_tx_info().nonce`); 0 in a view call. */
  readonly txNonce: () => bigint
  /** The hash of the executing transaction (`get_tx_info().transaction_hash`); 0 in a view call. */
  readonly txHash: () => bigint
  readonly setField: <T extends object, K extends keyof T>(target: T, key: K, value: T[K]) => void
  readonly addNonce: (set: Set<bigint>, nonce: bigint) => void
  /** Calls another contract (`call_contract_syscall`); throws `Revert` with its reason. */
  readonly call: (caller: bigint, to: bigint, selector: bigint, calldata: ReadonlyArray<bigint>) => Array<bigint>
  /** Runs `f`; when it throws `Revert`, what `f` wrote is rolled back before the throw goes on. */
  readonly attempt: <A>(f: () => A) => A
}

const ownerOnly = (self: bigint, caller: bigint) => {
  if (caller !== self) throw new Revert("Account: unauthorized")
}

const ecdsa = (hashValue: bigint, r: bigint | undefined, s: bigint | undefined, key: bigint) =>
  r !== undefined && s !== undefined && stark.verify(hashValue, r, s, key)

/** The entrypoints of one concern: what the call returns, or `undefined` when the selector is not one of them. */
type Entrypoints = (
  ctx: AccountContext,
  acc: Account,
  self: bigint,
  caller: bigint,
  selector: bigint,
  cd: ReadonlyArray<bigint>
) => Array<bigint> | undefined

/** An entrypoint of the account; throws `Revert` with the contract's reason. */
export const callAccount = (
  ctx: AccountContext,
  acc: Account,
  self: bigint,
  caller: bigint,
  selector: bigint,
  cd: ReadonlyArray<bigint>
): Array<bigint> => {
  for (const entrypoints of ENTRYPOINTS) {
    const result = entrypoints(ctx, acc, self, caller, selector, cd)
    if (result !== undefined) return result
  }
  throw new Revert("ENTRYPOINT_NOT_FOUND")
}

/** The session keys: added, revoked, read. */
const sessionKeyEntrypoints: Entrypoints = (ctx, acc, self, caller, selector, cd) => {
  switch (selector) {
    case S.add_or_update_session_key: {
      ownerOnly(self, caller)
      const [key, validUntil, maxCalls, allowed] = params(cd, ["felt", "u64", "u32", "felts"])
      // A fresh entry: every old entrypoint is cleared, so no stale selector survives a shorter list.
      ctx.setMap(acc.sessions, key, { validUntil, maxCalls, callsUsed: 0n, allowed })
      ctx.emit({ fromAddress: self, keys: [EVENT.SessionKeyAdded, key], data: [validUntil, maxCalls] })
      return []
    }
    case S.revoke_session_key: {
      ownerOnly(self, caller)
      const [key] = params(cd, ["felt"])
      ctx.setMap(acc.sessions, key, { validUntil: 0n, maxCalls: 0n, callsUsed: 0n, allowed: [] })
      ctx.emit({ fromAddress: self, keys: [EVENT.SessionKeyRevoked, key], data: [] })
      return []
    }
    case S.get_session_data: {
      const s = acc.sessions.get(params(cd, ["felt"])[0])
      return s === undefined ? [0n, 0n, 0n, 0n] : [s.validUntil, s.maxCalls, s.callsUsed, BigInt(s.allowed.length)]
    }
    case S.get_session_allowed_entrypoints_len: {
      const [key] = params(cd, ["felt"])
      return [BigInt(acc.sessions.get(key)?.allowed.length ?? 0)]
    }
    case S.get_session_allowed_entrypoint_at: {
      const [key, index] = params(cd, ["felt", "u32"])
      return [acc.sessions.get(key)?.allowed[Number(index)] ?? 0n]
    }
    default:
      return undefined
  }
}

/** The spending policies: set, removed, read. */
const spendingPolicyEntrypoints: Entrypoints = (ctx, acc, self, caller, selector, cd) => {
  switch (selector) {
    case S.set_spending_policy: {
      ownerOnly(self, caller)
      const [key, token, maxPerCall, maxPerWindow, windowSeconds] = params(cd, ["felt", "felt", "u256", "u256", "u64"])
      const policy: Policy = { maxPerCall, maxPerWindow, windowSeconds, spent: 0n, windowStart: ctx.now() }
      ctx.setMap(acc.policies, `${key}:${token}`, policy)
      ctx.emit({
        fromAddress: self,
        keys: [EVENT.SpendingPolicySet, key, token],
        data: [...split(policy.maxPerCall), ...split(policy.maxPerWindow), policy.windowSeconds]
      })
      return []
    }
    case S.remove_spending_policy: {
      ownerOnly(self, caller)
      const [key, token] = params(cd, ["felt", "felt"])
      ctx.setMap(acc.policies, `${key}:${token}`, { maxPerCall: 0n, maxPerWindow: 0n, windowSeconds: 0n, spent: 0n, windowStart: 0n })
      ctx.emit({ fromAddress: self, keys: [EVENT.SpendingPolicyRemoved, key, token], data: [] })
      return []
    }
    case S.get_spending_policy: {
      const [key, token] = params(cd, ["felt", "felt"])
      const p = acc.policies.get(`${key}:${token}`)
      return p === undefined
        ? [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]
        : [...split(p.maxPerCall), ...split(p.maxPerWindow), p.windowSeconds, ...split(p.spent), p.windowStart]
    }
    default:
      return undefined
  }
}

/** What the account answers of itself: its key, versions, signatures, interfaces, nonces. */
const readEntrypoints: Entrypoints = (ctx, acc, self, _caller, selector, cd) => {
  switch (selector) {
    case S.get_public_key:
    case S.getPublicKey:
      params(cd, [])
      return [acc.publicKey]
    case S.get_snip9_version:
      params(cd, [])
      return [2n]
    case S.compute_session_message_hash: {
      const [calls, validUntil] = params(cd, ["calls", "u64"])
      return [BigInt(directSessionHash(toHex(self), ctx.chainId, ctx.txNonce(), validUntil, calls))]
    }
    case S.is_valid_signature: {
      const [hashValue, signature] = params(cd, ["felt", "felts"])
      return [isValidSignature(ctx, acc, hashValue, signature) ? VALID_FELT : 0n]
    }
    case S.supports_interface: {
      const [id] = params(cd, ["felt"])
      return [SUPPORTED_INTERFACES.has(id) ? 1n : 0n]
    }
    case S.is_valid_outside_execution_nonce:
      return [acc.usedNonces.has(params(cd, ["felt"])[0]) ? 0n : 1n]
    case S.get_contract_info:
      params(cd, [])
      return [encodeShortString("v33")]
    default:
      return undefined
  }
}

/** The owner's own changes to the account: interfaces, its key, its class. */
const ownerEntrypoints: Entrypoints = (ctx, acc, self, caller, selector, cd) => {
  switch (selector) {
    case S.register_interfaces:
      ownerOnly(self, caller)
      params(cd, [])
      return []
    case S.set_public_key:
    case S.setPublicKey: {
      ownerOnly(self, caller)
      const [key] = params(cd, ["felt"])
      ctx.setField(acc, "publicKey", key)
      return []
    }
    case S.upgrade: {
      ownerOnly(self, caller)
      // The devnet declares one account class and the token class: any other class hash is unknown.
      const [classHash] = params(cd, ["felt"])
      throw new Revert(`Class with hash 0x${classHash.toString(16)} is not declared.`)
    }
    default:
      return undefined
  }
}

/** Calls run by the account: an outside execution, or the protocol's `__execute__`. */
const executionEntrypoints: Entrypoints = (ctx, acc, self, caller, selector, cd) => {
  switch (selector) {
    case S.execute_from_outside_v2:
      return executeFromOutside(ctx, acc, self, caller, cd)
    case S.__execute__: {
      // The protocol (caller 0) or the account itself; the calls run non-atomically.
      if (caller !== 0n && caller !== self) throw new Revert("Account: unauthorized caller")
      const parsed = parseCallArray(cd)
      if (parsed === undefined || parsed.end !== cd.length) throw new Revert("Failed to deserialize param #1")
      return serializeResults(runCalls(ctx, self, parsed.calls))
    }
    default:
      return undefined
  }
}

const ENTRYPOINTS: ReadonlyArray<Entrypoints> = [sessionKeyEntrypoints, spendingPolicyEntrypoints, readEntrypoints, ownerEntrypoints, executionEntrypoints]

// -- the session rules --------------------------------------------------------------------------------------

/** `session_allows`, in the spec's order. */
export const sessionAllows = (
  ctx: AccountContext,
  acc: Account,
  self: bigint,
  key: bigint,
  calls: ReadonlyArray<OutsideCall>
): boolean => {
  const s = acc.sessions.get(key)
  if (s === undefined || s.validUntil === 0n) return false
  if (ctx.now() > s.validUntil) return false
  if (s.callsUsed >= s.maxCalls) return false
  if (calls.some((c) => BLOCKLIST.has(BigInt(c.selector)))) return false
  if (s.allowed.length === 0) return !calls.some((c) => BigInt(c.to) === self)
  const allowed = new Set(s.allowed)
  return calls.every((c) => allowed.has(BigInt(c.selector)))
}

/** SNIP-6: read-only; never counts a call, never sees the calls. */
export const isValidSignature = (ctx: AccountContext, acc: Account, hashValue: bigint, sig: ReadonlyArray<bigint>): boolean => {
  if (sig.length === 2) return ecdsa(hashValue, sig[0], sig[1], acc.publicKey)
  if (sig.length !== 4) return false
  const [key, r, s, validUntil] = sig as [bigint, bigint, bigint, bigint]
  const stored = acc.sessions.get(key)
  const now = ctx.now()
  if (validUntil > U64_MAX || now > validUntil) return false
  if (stored === undefined || stored.validUntil === 0n || now > stored.validUntil) return false
  if (stored.callsUsed >= stored.maxCalls) return false
  return ecdsa(hashValue, r, s, key)
}

const countCall = (ctx: AccountContext, acc: Account, key: bigint) => {
  const entry = acc.sessions.get(key)!
  ctx.setMap(acc.sessions, key, { ...entry, callsUsed: entry.callsUsed + 1n })
}

const executeFromOutside = (ctx: AccountContext, acc: Account, self: bigint, relayer: bigint, cd: ReadonlyArray<bigint>): Array<bigint> => {
  // Cairo's generated wrapper: `outside_execution: OutsideExecution` is param #1, `signature: Span<felt252>` #2.
  const [outside, sig] = params(cd, ["outside", "felts"])
  const oe: OutsideExecution = {
    caller: toHex(outside.caller) as Felt,
    nonce: toHex(outside.nonce) as Felt,
    executeAfter: outside.executeAfter,
    executeBefore: outside.executeBefore,
    calls: outside.calls
  }
  const now = ctx.now()
  const caller = outside.caller
  if (caller !== 0n && caller !== ANY && caller !== relayer) throw new Revert("SRC9: invalid caller")
  if (!(oe.executeAfter < now)) throw new Revert("SRC9: now <= execute_after")
  if (!(now < oe.executeBefore)) throw new Revert("SRC9: now >= execute_before")
  const nonce = outside.nonce
  if (acc.usedNonces.has(nonce)) throw new Revert("SRC9: duplicated nonce")
  ctx.addNonce(acc.usedNonces, nonce)
  const isSession = sig.length === 4
  if (isSession) {
    const [key, , , validUntil] = sig as [bigint, bigint, bigint, bigint]
    if (validUntil > U64_MAX) throw new Revert("Session: invalid timestamp")
    if (validUntil > (acc.sessions.get(key)?.validUntil ?? 0n)) throw new Revert("Session: valid_until exceeded")
    if (!sessionAllows(ctx, acc, self, key, oe.calls)) throw new Revert("Session: unauthorized selector")
  }
  const address = "0x" + self.toString(16)
  const valid = isValidSignature(ctx, acc, BigInt(messageHash(ctx.chainId, address, oe, "u128")), sig) ||
    isValidSignature(ctx, acc, BigInt(messageHash(ctx.chainId, address, oe, "felt")), sig)
  if (!valid) throw new Revert("SRC9: invalid signature")
  if (isSession) {
    countCall(ctx, acc, sig[0]!)
    applySpending(ctx, acc, sig[0]!, oe.calls)
  }
  return serializeResults(runCalls(ctx, self, oe.calls))
}

/** The spending policy of session `key` over `calls`: each tracked call is checked and counted, or panics. */
export const applySpending = (ctx: AccountContext, acc: Account, key: bigint, calls: ReadonlyArray<OutsideCall>) => {
  if (acc.policies.size === 0) return
  const now = ctx.now()
  for (const call of calls) {
    if (!SPENDING.has(BigInt(call.selector))) continue
    const id = `${key}:${BigInt(call.to)}`
    const policy = acc.policies.get(id)
    if (policy === undefined || policy.maxPerWindow === 0n) continue
    if (call.calldata.length < 3) throw new Revert("Spending: calldata too short")
    const [low, high] = [BigInt(call.calldata[1]!), BigInt(call.calldata[2]!)]
    if (low > U128_MAX || high > U128_MAX) throw new Revert("Spending: invalid amount", "byteArray")
    const amount = (high << 128n) | low
    if (amount > policy.maxPerCall) throw new Revert("Spending: exceeds per-call")
    let { spent, windowStart } = policy
    // u64 arithmetic: a window whose end does not fit panics as Cairo's checked addition does.
    if (windowStart + policy.windowSeconds > U64_MAX) throw new Revert("u64_add Overflow")
    if (now >= windowStart + policy.windowSeconds) {
      spent = 0n
      windowStart = now
    }
    if (spent + amount > policy.maxPerWindow) throw new Revert("Spending: exceeds window limit")
    ctx.setMap(acc.policies, id, { ...policy, spent: spent + amount, windowStart })
  }
}

/** Non-atomic multicall: a failing call rolls back only itself and leaves an empty result. */
const runCalls = (ctx: AccountContext, self: bigint, calls: ReadonlyArray<OutsideCall>): Array<Array<bigint>> =>
  calls.map((call) => {
    try {
      return ctx.attempt(() => ctx.call(self, BigInt(call.to), BigInt(call.selector), call.calldata.map(BigInt)))
    } catch (error) {
      if (!(error instanceof Revert)) throw error
      return []
    }
  })

// -- the account's own invoke -------------------------------------------------------------------------------

/** What `__validate__` and `__execute__` of the account's own INVOKE see of it. */
export interface OwnInvoke {
  readonly calls: ReadonlyArray<OutsideCall>
  readonly signature: ReadonlyArray<bigint>
  readonly nonce: bigint
}

/**
 * `__validate__`: `VALID`, or 0 for a session signature the rules refuse or a signature of another length (it
 * never panics on bad input); a bad owner signature panics (`Account: invalid signature`). A session signature
 * signs the direct-path hash (`compute_session_message_hash`), the owner's the transaction hash, as OpenZeppelin's
 * `validate_transaction` checks it. A session's call is counted here.
 */
export const validate = (ctx: AccountContext, acc: Account, self: bigint, tx: OwnInvoke): bigint => {
  const sig = tx.signature
  const address = "0x" + self.toString(16)
  if (sig.length === 4) {
    const [key, r, s, validUntil] = sig as [bigint, bigint, bigint, bigint]
    if (validUntil > U64_MAX || ctx.now() > validUntil || !sessionAllows(ctx, acc, self, key, tx.calls)) return 0n
    const h = BigInt(directSessionHash(address, ctx.chainId, tx.nonce, validUntil, tx.calls))
    if (!ecdsa(h, r, s, key)) return 0n
    countCall(ctx, acc, key)
    return VALID_FELT
  }
  if (sig.length === 2) {
    if (!ecdsa(ctx.txHash(), sig[0], sig[1], acc.publicKey)) throw new Revert("Account: invalid signature")
    return VALID_FELT
  }
  // An empty signature is valid only when the caller is the account itself; an invoke's caller is the protocol.
  return 0n
}

/** `__execute__` called by the protocol: the spending policy for a session, then the calls. */
export const execute = (ctx: AccountContext, acc: Account, self: bigint, tx: OwnInvoke): Array<bigint> => {
  if (tx.signature.length === 4) applySpending(ctx, acc, tx.signature[0]!, tx.calls)
  return serializeResults(runCalls(ctx, self, tx.calls))
}
