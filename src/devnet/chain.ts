/**
 * The devnet's chain: every contract's state, the session-account contract with its rules as the spec states them
 * (check order, revert strings), transactions run into blocks (the tokens, calldata, hashes, blocks and the state
 * kept per block are their own modules). Synchronous and single-threaded: every mutation goes through a journal so
 * a failed transaction, or a failed inner call of a multicall, rolls back exactly its writes.
 */
import { ANY_CALLER, BLOCKLISTED_ENTRYPOINTS, INTERFACE_IDS, SPENDING_ENTRYPOINTS, STARKNET_CONTRACTS, VALID } from "../Constants.js"
import {
  directSessionHash,
  messageHash,
  type OutsideCall,
  type OutsideExecution,
  parseCallArray
} from "../OutsideExecution.js"
import type { Felt } from "../Schemas.js"
import { encodeShortString, toHex, U128_MAX, U64_MAX } from "../internal/felt.js"
import * as stark from "../internal/stark.js"
import { SESSION_ACCOUNT_CLASS_HASH } from "./abi.js"
import { Blocks } from "./blocks.js"
import { params, serializeCalls, serializeResults, split } from "./calldata.js"
import { Rejected, Revert } from "./revert.js"
import { EVENT, S, sel } from "./selectors.js"
import { History } from "./history.js"
import { callToken, type Token, type TokenContext } from "./token.js"
import { type ChainEvent, invokeV3Hash, type Tx, type TxPayload } from "./transactions.js"

export { Rejected, Revert } from "./revert.js"
export type { Token } from "./token.js"
export type { ChainEvent, Tx, TxPayload } from "./transactions.js"

const BLOCKLIST = new Set(BLOCKLISTED_ENTRYPOINTS.map(sel))
const SPENDING = new Set(SPENDING_ENTRYPOINTS.map(sel))
const ANY = BigInt(ANY_CALLER)
const STRK = BigInt(STARKNET_CONTRACTS.STRK.contractAddress)
/** The sequencer the fees go to (Starknet's own on mainnet and Sepolia). */
export const SEQUENCER_ADDRESS = 0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8n
/** ISRC5 itself: OpenZeppelin's SRC5 component answers it whatever was registered. */
export const ISRC5_ID = 0x3f918d17e5ee77373b56385708f855659a07f75997f365cf87748628532a055n
const SUPPORTED_INTERFACES = new Set([ISRC5_ID, ...Object.values(INTERFACE_IDS).map(BigInt)])
const VALID_FELT = BigInt(VALID)

export { SESSION_ACCOUNT_CLASS_HASH } from "./abi.js"

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
  nonce: bigint
  readonly sessions: Map<bigint, SessionEntry>
  readonly usedNonces: Set<bigint>
  readonly policies: Map<string, Policy>
}
/** A copy that later writes do not reach: entries are replaced, never mutated, so copying the collections is enough. */
const copyContract = (c: Account | Token): Account | Token =>
  c.kind === "account"
    ? { ...c, sessions: new Map(c.sessions), usedNonces: new Set(c.usedNonces), policies: new Map(c.policies) }
    : { ...c, balances: new Map(c.balances), allowances: new Map(c.allowances) }

/** Every contract's storage. */
export type State = Map<bigint, Account | Token>

export class Chain {
  contracts: State = new Map()
  readonly txs = new Map<bigint, Tx>()
  readonly pending: Array<Tx> = []
  latest: { readonly number: number; readonly timestamp: number }
  readonly blocks: Blocks<Tx>
  /** Transaction nonces of senders that are not accounts of this chain (the paymaster's relayer). */
  private readonly senderNonces = new Map<bigint, bigint>()
  private journal: Array<() => void> = []
  private readonly tokenContext: TokenContext = {
    setMap: (map, key, value) => this.setMap(map, key, value),
    emit: (event) => this.emit(event)
  }
  private events: Array<ChainEvent> = []
  /** Timestamp (seconds) the code currently executing sees. */
  private now = 0n
  /** The nonce of the transaction executing (`get_tx_info().nonce`); 0 in a view call. */
  private txNonce = 0n
  /** The contract executing, and whether this is a dry run (views, simulations) that keeps nothing. */
  private self = 0n
  private dryDepth = 0
  /** Contracts changed since the last block closed. */
  private readonly dirty = new Set<bigint>()
  private readonly history = new History<Account | Token>()
  /** Bumped whenever the state or the pool changes: the pre-confirmed preview is recomputed after it. */
  private epoch = 0
  private preview: { readonly key: string; readonly outcomes: ReadonlyMap<Tx, { readonly execution: "SUCCEEDED" | "REVERTED"; readonly revertReason?: string }> } | undefined

  constructor(readonly chainId: bigint, genesisSeconds: number, readonly l1AfterBlocks: number) {
    this.latest = { number: 0, timestamp: genesisSeconds }
    this.blocks = new Blocks(genesisSeconds)
  }

  /** The finality a reader at block `asOf` sees (L1 acceptance comes `l1AfterBlocks` blocks after inclusion). */
  finalityAt(tx: Tx, asOf: number): "RECEIVED" | "ACCEPTED_ON_L2" | "ACCEPTED_ON_L1" {
    if (tx.blockNumber === undefined || tx.blockNumber > asOf) return "RECEIVED"
    return asOf >= tx.blockNumber + this.l1AfterBlocks ? "ACCEPTED_ON_L1" : "ACCEPTED_ON_L2"
  }

  /**
   * A copy of every contract's storage, for reads that lag. Entries are replaced, never mutated, so copying the
   * collections (and the objects whose fields change) is enough.
   */
  snapshotState(): State {
    return new Map([...this.contracts].map(([address, c]) => [address, copyContract(c)]))
  }

  /**
   * Records the contracts changed since the last block as the state after block `n` (deployments and mints between
   * blocks belong to the next block).
   */
  private commit(n: number) {
    for (const address of this.dirty) {
      const c = this.contracts.get(address)
      if (c !== undefined) this.history.record(n, address, copyContract(c))
    }
    this.dirty.clear()
  }

  /** Records genesis: what was deployed before the first block is block 0's state. */
  commitGenesis() {
    this.commit(0)
  }

  /**
   * Every contract after block `n`: the live state for the latest block, a recorded one before it; `undefined`
   * when that state is no longer kept.
   */
  stateAt(n: number): State | undefined {
    return n >= this.latest.number ? this.contracts : this.history.stateAt(n)
  }

  /** Runs `f` against an earlier `state` at `timestamp`, changing nothing. */
  viewAt<A>(state: State, timestamp: bigint, f: () => A): A {
    const present = this.contracts
    this.contracts = state
    try {
      return this.dryRun(timestamp, f)
    } finally {
      this.contracts = present
    }
  }

  // -- journal ------------------------------------------------------------------------------------------------

  private mark() {
    return { journal: this.journal.length, events: this.events.length }
  }
  private rollback(to: { journal: number; events: number }) {
    while (this.journal.length > to.journal) this.journal.pop()!()
    this.events.length = to.events
  }
  private setMap<K, V>(map: Map<K, V>, key: K, value: V) {
    this.touch()
    const had = map.has(key)
    const previous = map.get(key)
    this.journal.push(() => (had ? map.set(key, previous as V) : map.delete(key)))
    map.set(key, value)
  }
  private setField<T extends object, K extends keyof T>(target: T, key: K, value: T[K]) {
    this.touch()
    const previous = target[key]
    this.journal.push(() => {
      target[key] = previous
    })
    target[key] = value
  }
  private addNonce(set: Set<bigint>, nonce: bigint) {
    this.touch()
    this.journal.push(() => set.delete(nonce))
    set.add(nonce)
  }
  /** The contract executing changes: unless in a dry run, its state after this block must be recorded. */
  private touch() {
    if (this.dryDepth === 0) this.changed(this.self)
  }
  private changed(address: bigint) {
    this.dirty.add(address)
    this.epoch++
  }
  private emit(event: ChainEvent) {
    this.events.push(event)
  }

  /** Runs `f` at time `now` and keeps nothing (views and simulations). */
  dryRun<A>(now: bigint, f: () => A): A {
    const saved = this.now
    const mark = this.mark()
    this.now = now
    this.dryDepth++
    try {
      return f()
    } finally {
      this.rollback(mark)
      this.now = saved
      this.dryDepth--
    }
  }

  // -- deployment ---------------------------------------------------------------------------------------------

  deployAccount(publicKey: bigint, salt: bigint): bigint {
    const address = stark.contractAddressFromHash(salt, SESSION_ACCOUNT_CLASS_HASH, [publicKey], 0n)
    this.contracts.set(address, {
      kind: "account",
      publicKey,
      nonce: 0n,
      sessions: new Map(),
      usedNonces: new Set(),
      policies: new Map()
    })
    this.changed(address)
    return address
  }

  deployToken(address: bigint, symbol: string, decimals: number) {
    this.contracts.set(address, { kind: "token", symbol, decimals, balances: new Map(), allowances: new Map(), supply: 0n })
    this.changed(address)
  }

  account(address: bigint): Account | undefined {
    const c = this.contracts.get(address)
    return c?.kind === "account" ? c : undefined
  }

  mint(tokenAddress: bigint, to: bigint, amount: bigint) {
    const token = this.contracts.get(tokenAddress)
    if (token?.kind !== "token") throw new Error(`no token at 0x${tokenAddress.toString(16)}`)
    token.balances.set(to, (token.balances.get(to) ?? 0n) + amount)
    token.supply += amount
    this.changed(tokenAddress)
  }

  // -- calls --------------------------------------------------------------------------------------------------

  /** Calls an entrypoint; throws `Revert` with the contract's reason. */
  call(caller: bigint, to: bigint, selector: bigint, calldata: ReadonlyArray<bigint>): Array<bigint> {
    const contract = this.contracts.get(to)
    if (contract === undefined) throw new Revert("CONTRACT_NOT_DEPLOYED")
    const outer = this.self
    this.self = to
    try {
      return contract.kind === "token"
        ? callToken(this.tokenContext, contract, to, caller, selector, calldata)
        : this.callAccount(contract, to, caller, selector, calldata)
    } finally {
      this.self = outer
    }
  }

  private ownerOnly(self: bigint, caller: bigint) {
    if (caller !== self) throw new Revert("Account: unauthorized")
  }

  private callAccount(acc: Account, self: bigint, caller: bigint, selector: bigint, cd: ReadonlyArray<bigint>): Array<bigint> {
    switch (selector) {
      case S.add_or_update_session_key: {
        this.ownerOnly(self, caller)
        const [key, validUntil, maxCalls, allowed] = params(cd, ["felt", "u64", "u32", "felts"])
        // A fresh entry: every old entrypoint is cleared, so no stale selector survives a shorter list.
        this.setMap(acc.sessions, key, { validUntil, maxCalls, callsUsed: 0n, allowed })
        this.emit({ fromAddress: self, keys: [EVENT.SessionKeyAdded, key], data: [validUntil, maxCalls] })
        return []
      }
      case S.revoke_session_key: {
        this.ownerOnly(self, caller)
        const [key] = params(cd, ["felt"])
        this.setMap(acc.sessions, key, { validUntil: 0n, maxCalls: 0n, callsUsed: 0n, allowed: [] })
        this.emit({ fromAddress: self, keys: [EVENT.SessionKeyRevoked, key], data: [] })
        return []
      }
      case S.get_session_data: {
        const s = acc.sessions.get(params(cd, ["felt"])[0])
        return s === undefined ? [0n, 0n, 0n, 0n] : [s.validUntil, s.maxCalls, s.callsUsed, BigInt(s.allowed.length)]
      }
      case S.get_public_key:
      case S.getPublicKey:
        params(cd, [])
        return [acc.publicKey]
      case S.get_snip9_version:
        params(cd, [])
        return [2n]
      case S.compute_session_message_hash: {
        const [calls, validUntil] = params(cd, ["calls", "u64"])
        return [BigInt(directSessionHash(toHex(self), this.chainId, this.txNonce, validUntil, calls))]
      }
      case S.register_interfaces:
        this.ownerOnly(self, caller)
        params(cd, [])
        return []
      case S.get_session_allowed_entrypoints_len: {
        const [key] = params(cd, ["felt"])
        return [BigInt(acc.sessions.get(key)?.allowed.length ?? 0)]
      }
      case S.get_session_allowed_entrypoint_at: {
        const [key, index] = params(cd, ["felt", "u32"])
        return [acc.sessions.get(key)?.allowed[Number(index)] ?? 0n]
      }
      case S.is_valid_signature: {
        const [hashValue, signature] = params(cd, ["felt", "felts"])
        return [this.isValidSignature(acc, hashValue, signature) ? VALID_FELT : 0n]
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
      case S.set_spending_policy: {
        this.ownerOnly(self, caller)
        const [key, token, maxPerCall, maxPerWindow, windowSeconds] = params(cd, ["felt", "felt", "u256", "u256", "u64"])
        const policy: Policy = { maxPerCall, maxPerWindow, windowSeconds, spent: 0n, windowStart: this.now }
        this.setMap(acc.policies, `${key}:${token}`, policy)
        this.emit({
          fromAddress: self,
          keys: [EVENT.SpendingPolicySet, key, token],
          data: [...split(policy.maxPerCall), ...split(policy.maxPerWindow), policy.windowSeconds]
        })
        return []
      }
      case S.remove_spending_policy: {
        this.ownerOnly(self, caller)
        const [key, token] = params(cd, ["felt", "felt"])
        this.setMap(acc.policies, `${key}:${token}`, { maxPerCall: 0n, maxPerWindow: 0n, windowSeconds: 0n, spent: 0n, windowStart: 0n })
        this.emit({ fromAddress: self, keys: [EVENT.SpendingPolicyRemoved, key, token], data: [] })
        return []
      }
      case S.get_spending_policy: {
        const [key, token] = params(cd, ["felt", "felt"])
        const p = acc.policies.get(`${key}:${token}`)
        return p === undefined
          ? [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]
          : [...split(p.maxPerCall), ...split(p.maxPerWindow), p.windowSeconds, ...split(p.spent), p.windowStart]
      }
      case S.execute_from_outside_v2:
        return this.executeFromOutside(acc, self, caller, cd)
      case S.__execute__: {
        // The protocol (caller 0) or the account itself; the calls run non-atomically.
        if (caller !== 0n && caller !== self) throw new Revert("Account: unauthorized caller")
        const parsed = parseCallArray(cd)
        if (parsed === undefined || parsed.end !== cd.length) throw new Revert("Failed to deserialize param #1")
        return serializeResults(this.runCalls(self, parsed.calls))
      }
      case S.set_public_key:
      case S.setPublicKey: {
        this.ownerOnly(self, caller)
        const [key] = params(cd, ["felt"])
        this.setField(acc, "publicKey", key)
        return []
      }
      case S.upgrade: {
        this.ownerOnly(self, caller)
        // The devnet declares one account class and the token class: any other class hash is unknown.
        const [classHash] = params(cd, ["felt"])
        throw new Revert(`Class with hash 0x${classHash.toString(16)} is not declared.`)
      }
      default:
        throw new Revert("ENTRYPOINT_NOT_FOUND")
    }
  }

  // -- the session rules --------------------------------------------------------------------------------------

  /** `session_allows`, in the spec's order. */
  sessionAllows(acc: Account, self: bigint, key: bigint, calls: ReadonlyArray<OutsideCall>): boolean {
    const s = acc.sessions.get(key)
    if (s === undefined || s.validUntil === 0n) return false
    if (this.now > s.validUntil) return false
    if (s.callsUsed >= s.maxCalls) return false
    if (calls.some((c) => BLOCKLIST.has(BigInt(c.selector)))) return false
    if (s.allowed.length === 0) return !calls.some((c) => BigInt(c.to) === self)
    const allowed = new Set(s.allowed)
    return calls.every((c) => allowed.has(BigInt(c.selector)))
  }

  private ecdsa(hashValue: bigint, r: bigint | undefined, s: bigint | undefined, key: bigint) {
    return r !== undefined && s !== undefined && stark.verify(hashValue, r, s, key)
  }

  /** SNIP-6: read-only; never counts a call, never sees the calls. */
  isValidSignature(acc: Account, hashValue: bigint, sig: ReadonlyArray<bigint>): boolean {
    if (sig.length === 2) return this.ecdsa(hashValue, sig[0], sig[1], acc.publicKey)
    if (sig.length !== 4) return false
    const [key, r, s, validUntil] = sig as [bigint, bigint, bigint, bigint]
    const stored = acc.sessions.get(key)
    if (validUntil > U64_MAX || this.now > validUntil) return false
    if (stored === undefined || stored.validUntil === 0n || this.now > stored.validUntil) return false
    if (stored.callsUsed >= stored.maxCalls) return false
    return this.ecdsa(hashValue, r, s, key)
  }

  private executeFromOutside(acc: Account, self: bigint, relayer: bigint, cd: ReadonlyArray<bigint>): Array<bigint> {
    // Cairo's generated wrapper: `outside_execution: OutsideExecution` is param #1, `signature: Span<felt252>` #2.
    const [outside, sig] = params(cd, ["outside", "felts"])
    const oe: OutsideExecution = {
      caller: toHex(outside.caller) as Felt,
      nonce: toHex(outside.nonce) as Felt,
      executeAfter: outside.executeAfter,
      executeBefore: outside.executeBefore,
      calls: outside.calls
    }
    const caller = outside.caller
    if (caller !== 0n && caller !== ANY && caller !== relayer) throw new Revert("SRC9: invalid caller")
    if (!(oe.executeAfter < this.now)) throw new Revert("SRC9: now <= execute_after")
    if (!(this.now < oe.executeBefore)) throw new Revert("SRC9: now >= execute_before")
    const nonce = BigInt(oe.nonce)
    if (acc.usedNonces.has(nonce)) throw new Revert("SRC9: duplicated nonce")
    this.addNonce(acc.usedNonces, nonce)
    const isSession = sig.length === 4
    if (isSession) {
      const [key, , , validUntil] = sig as [bigint, bigint, bigint, bigint]
      if (validUntil > U64_MAX) throw new Revert("Session: invalid timestamp")
      if (validUntil > (acc.sessions.get(key)?.validUntil ?? 0n)) throw new Revert("Session: valid_until exceeded")
      if (!this.sessionAllows(acc, self, key, oe.calls)) throw new Revert("Session: unauthorized selector")
    }
    const valid = this.isValidSignature(acc, BigInt(messageHash(this.chainId, "0x" + self.toString(16), oe, "u128")), sig) ||
      this.isValidSignature(acc, BigInt(messageHash(this.chainId, "0x" + self.toString(16), oe, "felt")), sig)
    if (!valid) throw new Revert("SRC9: invalid signature")
    if (isSession) {
      const entry = acc.sessions.get(sig[0]!)!
      this.setMap(acc.sessions, sig[0]!, { ...entry, callsUsed: entry.callsUsed + 1n })
      this.applySpending(acc, sig[0]!, oe.calls)
    }
    return serializeResults(this.runCalls(self, oe.calls))
  }

  private applySpending(acc: Account, key: bigint, calls: ReadonlyArray<OutsideCall>) {
    if (acc.policies.size === 0) return
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
      if (this.now >= windowStart + policy.windowSeconds) {
        spent = 0n
        windowStart = this.now
      }
      if (spent + amount > policy.maxPerWindow) throw new Revert("Spending: exceeds window limit")
      this.setMap(acc.policies, id, { ...policy, spent: spent + amount, windowStart })
    }
  }

  /** Non-atomic multicall: a failing call rolls back only itself and leaves an empty result. */
  private runCalls(self: bigint, calls: ReadonlyArray<OutsideCall>): Array<Array<bigint>> {
    return calls.map((call) => {
      const mark = this.mark()
      try {
        return this.call(self, BigInt(call.to), BigInt(call.selector), call.calldata.map(BigInt))
      } catch (error) {
        if (!(error instanceof Revert)) throw error
        this.rollback(mark)
        return []
      }
    })
  }

  // -- transactions -------------------------------------------------------------------------------------------

  /**
   * Runs a transaction's effect at `now`; returns the events. A revert throws `Revert` after rolling back what the
   * transaction did, except, for the account's own invoke, what its validation did (nonce and session count stand,
   * as on Starknet); a failed validation throws `Rejected` after rolling back everything.
   */
  apply(payload: TxPayload, now: bigint, txNonce: bigint = payload.kind === "invoke" ? payload.nonce : 0n): Array<ChainEvent> {
    const saved = { now: this.now, txNonce: this.txNonce }
    const start = this.mark()
    let keep = start
    this.now = now
    this.txNonce = txNonce
    try {
      if (payload.kind === "outside") {
        this.call(payload.relayer, payload.account, S.execute_from_outside_v2, payload.calldata.map(BigInt))
      } else {
        const outer = this.self
        this.self = payload.account
        try {
          const acc = this.validateInvoke(payload)
          keep = this.mark()
          this.executeInvoke(acc, payload)
        } finally {
          this.self = outer
        }
      }
      return this.events.slice(start.events)
    } catch (error) {
      this.rollback(error instanceof Revert ? keep : start)
      throw error
    } finally {
      this.now = saved.now
      this.txNonce = saved.txNonce
    }
  }

  /**
   * The protocol's checks and the account's `__validate__` for its own invoke. `__validate__` never panics on bad
   * input, it answers 0 and the sequencer rejects the transaction; only a bad owner signature panics.
   */
  private validateInvoke(p: Extract<TxPayload, { kind: "invoke" }>): Account {
    // In validate mode Starknet gives the block timestamp rounded down to the hour: expiry checks here are coarse.
    const now = this.now
    this.now = now - now % 3600n
    try {
      return this.validateInvokeAt(p)
    } finally {
      this.now = now
    }
  }

  private validateInvokeAt(p: Extract<TxPayload, { kind: "invoke" }>): Account {
    const acc = this.account(p.account)
    if (acc === undefined) throw new Rejected("Contract not found")
    if (p.nonce !== acc.nonce) throw new Rejected(`Invalid transaction nonce: expected ${acc.nonce}, got ${p.nonce}`)
    const sig = p.signature
    const self = "0x" + p.account.toString(16)
    const returnedZero = new Rejected("Account validation failed: __validate__ returned 0")
    if (sig.length === 4) {
      const [key, r, s, validUntil] = sig as [bigint, bigint, bigint, bigint]
      if (validUntil > U64_MAX || this.now > validUntil || !this.sessionAllows(acc, p.account, key, p.calls)) throw returnedZero
      const h = BigInt(directSessionHash(self, this.chainId, p.nonce, validUntil, p.calls))
      if (!this.ecdsa(h, r, s, key)) throw returnedZero
      const entry = acc.sessions.get(key)!
      this.setMap(acc.sessions, key, { ...entry, callsUsed: entry.callsUsed + 1n })
    } else if (sig.length === 2) {
      const h = BigInt(directSessionHash(self, this.chainId, p.nonce, 0n, p.calls))
      if (!this.ecdsa(h, sig[0], sig[1], acc.publicKey)) throw new Rejected("Account validation failed: Account: invalid signature")
    } else {
      // An empty signature is valid only when the caller is the account itself; an invoke's caller is the protocol.
      throw returnedZero
    }
    this.setField(acc, "nonce", acc.nonce + 1n)
    return acc
  }

  /** The account's `__execute__` (called by the protocol): the spending policy for a session, then the calls. */
  private executeInvoke(acc: Account, p: Extract<TxPayload, { kind: "invoke" }>) {
    if (p.signature.length === 4) this.applySpending(acc, p.signature[0]!, p.calls)
    this.runCalls(p.account, p.calls)
  }

  /**
   * The outcome each transaction due in the next block would have if the block closed at `timestamp` now (the
   * pre-confirmed block): the pending transactions run in order in a dry run. Cached until the chain changes.
   */
  preConfirmed(timestamp: number): ReadonlyMap<Tx, { readonly execution: "SUCCEEDED" | "REVERTED"; readonly revertReason?: string }> {
    const key = `${this.epoch}:${timestamp}`
    if (this.preview?.key === key) return this.preview.outcomes
    const outcomes = new Map<Tx, { readonly execution: "SUCCEEDED" | "REVERTED"; readonly revertReason?: string }>()
    const next = this.latest.number + 1
    this.dryRun(BigInt(timestamp), () => {
      for (const tx of this.pending) {
        if (tx.holdUntil >= next) continue
        try {
          this.apply(tx.payload, BigInt(timestamp), tx.nonce)
          outcomes.set(tx, { execution: "SUCCEEDED" })
        } catch (error) {
          if (error instanceof Revert) outcomes.set(tx, { execution: "REVERTED", revertReason: error.reason })
          else if (!(error instanceof Rejected)) throw error
        }
      }
    })
    this.preview = { key, outcomes }
    return outcomes
  }

  /**
   * Accepts a transaction into the pending pool: the relayer's INVOKE (its multicall of one
   * `execute_from_outside_v2`) or the account's own. Submitting the same transaction twice answers the same one.
   */
  submit(payload: TxPayload, holdUntil: number, outsideNonce?: bigint): Tx {
    const [sender, nonce, calldata] = payload.kind === "outside"
      ? [
        payload.relayer,
        this.senderNonces.get(payload.relayer) ?? 0n,
        serializeCalls([{ to: toHex(payload.account) as Felt, selector: toHex(S.execute_from_outside_v2) as Felt, calldata: payload.calldata as ReadonlyArray<Felt> }])
      ] as const
      : [payload.account, payload.nonce, serializeCalls(payload.calls)] as const
    const txHash = invokeV3Hash(this.chainId, sender, nonce, calldata)
    const known = this.txs.get(txHash)
    if (known !== undefined) return known
    if (payload.kind === "outside") this.senderNonces.set(sender, nonce + 1n)
    const tx: Tx = {
      hash: txHash,
      payload,
      sender,
      nonce,
      calldata,
      ...(outsideNonce !== undefined ? { outsideNonce } : {}),
      events: [],
      holdUntil
    }
    this.txs.set(tx.hash, tx)
    this.pending.push(tx)
    this.epoch++
    return tx
  }

  /**
   * Closes block `number` at `timestamp`: runs the pending transactions in order. The blocks between the latest and
   * `number`, if any, are empty; `gapTimestamp` gives their timestamps.
   */
  closeBlock(number: number, timestamp: number, gapTimestamp: (n: number) => number = () => timestamp) {
    const keep: Array<Tx> = []
    const included: Array<Tx> = []
    for (const tx of this.pending) {
      if (tx.holdUntil >= number) {
        keep.push(tx)
        continue
      }
      try {
        tx.events = this.apply(tx.payload, BigInt(timestamp), tx.nonce)
        tx.execution = "SUCCEEDED"
      } catch (error) {
        if (error instanceof Revert) {
          tx.execution = "REVERTED"
          tx.revertReason = error.reason
        } else if (error instanceof Rejected) {
          tx.rejected = error.reason
        } else {
          throw error
        }
      }
      // Included for good (or dropped): nothing to roll back any more.
      this.journal.length = 0
      this.events.length = 0
      // A transaction whose validation fails when its turn comes is dropped, as a sequencer drops it: never
      // included, never a status (there is no REJECTED in RPC 0.9).
      if (tx.rejected !== undefined) continue
      // The fee transfer ends every receipt, reverted ones too: the devnet's gas is free, so it moves 0 STRK.
      tx.events = [...tx.events, { fromAddress: STRK, keys: [EVENT.Transfer, tx.sender, SEQUENCER_ADDRESS], data: [0n, 0n] }]
      tx.blockNumber = number
      included.push(tx)
    }
    this.pending.length = 0
    this.pending.push(...keep)
    this.latest = { number, timestamp }
    this.epoch++
    this.commit(number)
    this.blocks.close(number, timestamp, included, gapTimestamp)
  }
}
