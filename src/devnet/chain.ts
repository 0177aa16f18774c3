/**
 * The devnet's chain: every contract's state, calls dispatched to the contracts' code (the session account and the
 * tokens are their own modules), the pending pool and transactions run into blocks (calldata, hashes, blocks and
 * the state kept per block are their own modules). Synchronous and single-threaded: every mutation goes through a journal so
 * a failed transaction, or a failed inner call of a multicall, rolls back exactly its writes.
 */
import { STARKNET_CONTRACTS, VALID } from "../Constants.js"
import * as stark from "../internal/crypto/stark.js"
import { SESSION_ACCOUNT_CLASS_HASH } from "./abi.js"
import { type Account, type AccountContext, callAccount, copyAccount, execute, newAccount, validate } from "./account.js"
import { Blocks } from "./blocks.js"
import { serializeCalls } from "./calldata.js"
import { panicData, Rejected, Revert } from "./revert.js"
import { EVENT, S } from "./selectors.js"
import { History } from "./history.js"
import { callToken, copyToken, type Token } from "./token.js"
import { type ChainEvent, type Gas, gasOf, invokeV3Hash, QUERY_VERSION_3, type Tx, type TxPayload } from "./transactions.js"

const U256_LIMIT = 2n ** 256n - 1n

const STRK = BigInt(STARKNET_CONTRACTS.STRK.contractAddress)
const VALID_FELT = BigInt(VALID)
/** The sequencer the fees go to (Starknet's own on mainnet and Sepolia). */
export const SEQUENCER_ADDRESS = 0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8n

/** A copy that later writes do not reach: entries are replaced, never mutated, so copying the collections is enough. */
const copyContract = (c: Account | Token): Account | Token => c.kind === "account" ? copyAccount(c) : copyToken(c)

/** Every contract's storage. */
export type State = Map<bigint, Account | Token>

/** How a transaction ran in the pre-confirmed block. */
export interface Outcome {
  readonly execution: "SUCCEEDED" | "REVERTED"
  readonly revertReason?: string
  readonly events: ReadonlyArray<ChainEvent>
  readonly gas: Gas
  /** Its trace: the frames the transaction ran at top level (`__validate__` then `__execute__`, or the relayer's call). */
  readonly trace?: ReadonlyArray<Frame>
}

type Invoke = Extract<TxPayload, { kind: "invoke" }>

/** One call in a simulated transaction's trace (`FUNCTION_INVOCATION`): what it was asked, answered, called, emitted. */
export interface Frame {
  readonly caller: bigint
  readonly to: bigint
  readonly selector: bigint
  readonly calldata: ReadonlyArray<bigint>
  result: ReadonlyArray<bigint>
  readonly calls: Array<Frame>
  /** The events it emitted itself, each with its order in the transaction. */
  events: Array<{ readonly order: number; readonly event: ChainEvent }>
  reverted: boolean
}
const frame = (caller: bigint, to: bigint, selector: bigint, calldata: ReadonlyArray<bigint>): Frame => ({
  caller,
  to,
  selector,
  calldata,
  result: [],
  calls: [],
  events: [],
  reverted: false
})
/** A reverted call's events (and its inner calls') are rolled back with it. */
const dropEvents = (f: Frame) => {
  f.events = []
  f.calls.forEach(dropEvents)
}

/** A transaction as a simulation ran it: its trace, events (the fee transfer last) and gas. */
export interface Simulated {
  readonly validate?: Frame
  readonly execute: Frame | { readonly revertReason: string }
  readonly feeTransfer: Frame
  readonly events: ReadonlyArray<ChainEvent>
  readonly gas: Gas
}

/** The block being built, as it stands: its number, the time it runs at, its transactions and the state after them. */
export interface PreConfirmed {
  readonly number: number
  readonly timestamp: number
  readonly state: State
  /** The transactions that ran in it, in order. */
  readonly outcomes: ReadonlyMap<Tx, Outcome>
}

export class Chain {
  /**
   * Called when a transaction is accepted and when a block closes: the served devnet's subscriptions look at the
   * chain then, as a node notifies on its own changes, besides their periodic look (blocks that close as the clock
   * passes, statuses that change with time).
   */
  readonly onChange = new Set<() => void>()
  contracts: State = new Map()
  readonly txs = new Map<bigint, Tx>()
  readonly pending: Array<Tx> = []
  latest: { readonly number: number; readonly timestamp: number }
  readonly blocks: Blocks<Tx>
  /** Transaction nonces of senders that are not accounts of this chain (the paymaster's relayer). */
  private readonly senderNonces = new Map<bigint, bigint>()
  private journal: Array<() => void> = []
  /** What the contracts' code reaches of the chain. */
  private readonly context: AccountContext
  private events: Array<ChainEvent> = []
  /** Timestamp (seconds) the code currently executing sees. */
  private now = 0n
  /** The nonce and hash of the transaction executing (`get_tx_info()`); 0 in a view call. */
  private txNonce = 0n
  private txHash = 0n
  /** The contract executing, and whether this is a dry run (views, simulations) that keeps nothing. */
  private self = 0n
  private dryDepth = 0
  /** Contracts changed since the last block closed. */
  private readonly dirty = new Set<bigint>()
  private readonly history = new History<Account | Token>()
  /** Bumped whenever the state or the pool changes: the pre-confirmed preview is recomputed after it. */
  private epoch = 0
  private preview: { readonly key: string; readonly epoch: number; readonly notYet: number; readonly block: PreConfirmed } | undefined
  /** The block being built and its timestamp, fixed once a pre-confirmed view ran a transaction in it. */
  private pinned: { readonly number: number; readonly timestamp: number } | undefined
  /** How many pending transactions `preConfirmed` last found not pre-confirmed yet, at which epoch and instant. */
  private notYetMemo: { readonly epoch: number; readonly nowMillis: number; readonly notYet: number } | undefined
  /** The transaction the last submission added, and the epoch it made. */
  private appended: { readonly tx: Tx; readonly epoch: number } | undefined
  /** Contracts written in the dry run computing the pre-confirmed block. */
  private dryTouched: Set<bigint> | undefined
  /** Contracts the transaction running wrote, and how many the last one wrote (its share of the state diff). */
  private written: Set<bigint> | undefined
  private lastWritten = 0
  /** The calls open while a simulation traces a transaction (a root frame first), and where its events begin. */
  private frames: Array<Frame> | undefined
  private eventBase = 0

  constructor(readonly chainId: bigint, genesisSeconds: number, readonly l1AfterBlocks: number) {
    this.latest = { number: 0, timestamp: genesisSeconds }
    this.blocks = new Blocks(genesisSeconds)
    this.context = {
      chainId,
      now: () => this.now,
      txNonce: () => this.txNonce,
      txHash: () => this.txHash,
      setMap: (map, key, value) => this.setMap(map, key, value),
      setField: (target, key, value) => this.setField(target, key, value),
      addNonce: (set, nonce) => this.addNonce(set, nonce),
      emit: (event) => this.emit(event),
      call: (caller, to, selector, calldata) => this.call(caller, to, selector, calldata),
      attempt: (f) => {
        const mark = this.mark()
        try {
          return f()
        } catch (error) {
          if (error instanceof Revert) this.rollback(mark)
          throw error
        }
      }
    }
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
    this.written?.add(this.self)
    if (this.dryDepth === 0) this.changed(this.self)
    else this.dryTouched?.add(this.self)
  }
  private changed(address: bigint) {
    this.dirty.add(address)
    this.epoch++
  }
  private emit(event: ChainEvent) {
    this.frames?.at(-1)?.events.push({ order: this.events.length - this.eventBase, event })
    this.events.push(event)
  }

  /** Runs `f` as a call; while a simulation traces, as a frame of its trace. */
  private framed<A>(caller: bigint, to: bigint, selector: bigint, calldata: ReadonlyArray<bigint>, f: () => A, result: (a: A) => ReadonlyArray<bigint>): A {
    const stack = this.frames
    if (stack === undefined) return f()
    const f0 = frame(caller, to, selector, calldata)
    stack.at(-1)?.calls.push(f0)
    stack.push(f0)
    try {
      const a = f()
      f0.result = result(a)
      return a
    } catch (error) {
      f0.reverted = true
      if (error instanceof Revert) f0.result = panicData(error)
      dropEvents(f0)
      throw error
    } finally {
      stack.pop()
    }
  }

  /** Traces the next transaction `apply` runs: its top-level frames become the returned root's calls. */
  private tracing(): Frame {
    const root = frame(0n, 0n, 0n, [])
    this.frames = [root]
    this.eventBase = this.events.length
    return root
  }

  /**
   * The nonce an account's next invoke must carry, as a node's mempool counts it: the latest state's, past those of
   * the account's own invokes already pending.
   */
  nextNonce(account: bigint): bigint | undefined {
    const acc = this.account(account)
    if (acc === undefined) return undefined
    let next = acc.nonce
    for (const tx of this.pending) {
      if (tx.payload.kind === "invoke" && tx.payload.account === account && tx.nonce >= next) next = tx.nonce + 1n
    }
    return next
  }

  /**
   * Validates an invoke as a node admits it, keeping nothing: against the latest state (what other pending
   * transactions will do is not known yet), with the account's nonce counting its pending invokes. Throws
   * `Rejected` when it would be refused; `Revert` when it would be admitted but revert in `__execute__`.
   */
  admit(payload: Invoke, now: bigint) {
    this.dryRun(now, () => {
      const acc = this.account(payload.account)
      const next = this.nextNonce(payload.account)
      if (acc !== undefined && next !== undefined && next !== acc.nonce) this.setField(acc, "nonce", next)
      this.apply(payload, now)
    })
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
    return this.deployAccountAt(stark.contractAddressFromHash(salt, SESSION_ACCOUNT_CLASS_HASH, [publicKey], 0n), publicKey)
  }

  /** The address `deployAccount` gives, one Pedersen hash per step (see `stark.contractAddressSteps`). */
  accountAddressSteps(publicKey: bigint, salt: bigint): Generator<void, bigint> {
    return stark.contractAddressSteps(salt, SESSION_ACCOUNT_CLASS_HASH, [publicKey], 0n)
  }

  /** Deploys an account at the address `accountAddressSteps` computed for its public key. */
  deployAccountAt(address: bigint, publicKey: bigint): bigint {
    this.contracts.set(address, newAccount(publicKey))
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

  /** Why a mint cannot be made (no such token, or a balance or supply past u256), if it cannot. */
  mintRefusal(tokenAddress: bigint, to: bigint, amount: bigint): string | undefined {
    const token = this.contracts.get(tokenAddress)
    if (token?.kind !== "token") return `no token at 0x${tokenAddress.toString(16)}`
    if ((token.balances.get(to) ?? 0n) + amount > U256_LIMIT || token.supply + amount > U256_LIMIT) {
      return "the balance (or the token's supply) would pass 2^256 - 1"
    }
    return undefined
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
      return this.framed(caller, to, selector, calldata, () =>
        contract.kind === "token"
          ? callToken(this.context, contract, to, caller, selector, calldata)
          : callAccount(this.context, contract, to, caller, selector, calldata), (r) => r)
    } finally {
      this.self = outer
    }
  }

  // -- transactions -------------------------------------------------------------------------------------------

  /**
   * Runs a transaction's effect at `now`; returns the events. A revert throws `Revert` after rolling back what the
   * transaction did, except, for the account's own invoke, what its validation did (nonce and session count stand,
   * as on Starknet); a failed validation throws `Rejected` after rolling back everything.
   */
  apply(
    payload: TxPayload,
    now: bigint,
    txNonce: bigint = payload.kind === "invoke" ? payload.nonce : 0n,
    options: { readonly skipValidate?: boolean } = {}
  ): Array<ChainEvent> {
    const saved = { now: this.now, txNonce: this.txNonce, txHash: this.txHash }
    const start = this.mark()
    let keep = start
    this.now = now
    this.txNonce = txNonce
    const written = new Set<bigint>()
    this.written = written
    // The account's own invoke sees its transaction hash; an outside execution's (the relayer's) is not read.
    this.txHash = payload.kind === "invoke" ? this.hashOf(payload) : 0n
    try {
      if (payload.kind === "outside") {
        this.call(payload.relayer, payload.account, S.execute_from_outside_v2, payload.calldata)
      } else {
        const outer = this.self
        this.self = payload.account
        try {
          const acc = this.validateInvoke(payload, options.skipValidate === true)
          keep = this.mark()
          const calldata = serializeCalls(payload.calls)
          this.framed(0n, payload.account, S.__execute__, calldata, () => execute(this.context, acc, payload.account, payload), (r) => r)
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
      this.txHash = saved.txHash
      // The relayer's nonce is written too, though the relayer is not a contract of this chain.
      this.lastWritten = written.size + (payload.kind === "outside" ? 1 : 0)
      this.written = undefined
    }
  }

  /** The gas a transaction used, after `apply` ran it and its events (the fee transfer included) are known. */
  private gasOf(tx: { readonly calldata: ReadonlyArray<bigint>; readonly payload: TxPayload }, events: number): Gas {
    return gasOf(tx.calldata.length + (tx.payload.kind === "invoke" ? tx.payload.signature.length : 0), events, this.lastWritten)
  }

  /** The INVOKE v3 hash of the account's own invoke. */
  hashOf(p: Invoke): bigint {
    return invokeV3Hash(this.chainId, p.account, p.nonce, serializeCalls(p.calls), p.fields, p.query === true ? QUERY_VERSION_3 : 3n)
  }

  /**
   * The protocol's checks (the account exists, the nonce is its next) and the account's `__validate__` for its own
   * invoke (unless a simulation skips it), then the nonce bump. `__validate__` answering 0 or panicking rejects the
   * transaction.
   */
  private validateInvoke(p: Invoke, skipValidate: boolean): Account {
    const acc = this.account(p.account)
    if (acc === undefined) throw new Rejected("Contract not found")
    if (p.nonce !== acc.nonce) throw new Rejected(`Invalid transaction nonce: expected ${acc.nonce}, got ${p.nonce}`, 52)
    if (!skipValidate) {
      // In validate mode Starknet gives the block timestamp rounded down to the hour: expiry checks here are coarse.
      const now = this.now
      this.now = now - now % 3600n
      let answer: bigint
      try {
        answer = this.framed(0n, p.account, S.__validate__, serializeCalls(p.calls), () => validate(this.context, acc, p.account, p), (a) => [a])
      } catch (error) {
        if (error instanceof Revert) throw new Rejected(`Account validation failed: ${error.reason}`, 55, error.reason)
        throw error
      } finally {
        this.now = now
      }
      if (answer !== VALID_FELT) throw new Rejected("Account validation failed: __validate__ returned 0")
    }
    this.setField(acc, "nonce", acc.nonce + 1n)
    return acc
  }

  /**
   * Simulates the account's own invokes in order on `state` at `timestamp` (each sees what the previous did) and
   * keeps nothing: validation (unless skipped) and execution by the account's rules, traced call by call. A
   * transaction whose validation fails ends the simulation: its index and why. One that reverts in `__execute__`
   * is simulated as reverted, and what its validation did stands for the next.
   */
  simulate(
    state: State,
    timestamp: bigint,
    payloads: ReadonlyArray<Invoke>,
    skipValidate: boolean
  ): { readonly simulated: ReadonlyArray<Simulated> } | { readonly index: number; readonly error: Rejected } {
    return this.viewAt(state, timestamp, () => {
      const simulated: Array<Simulated> = []
      for (const [index, p] of payloads.entries()) {
        const root = frame(0n, 0n, 0n, [])
        this.frames = [root]
        this.eventBase = this.events.length
        let events: Array<ChainEvent>
        let revertReason: string | undefined
        try {
          events = this.apply(p, timestamp, p.nonce, { skipValidate })
        } catch (error) {
          if (error instanceof Rejected) return { index, error }
          if (!(error instanceof Revert)) throw error
          revertReason = error.reason
          events = []
        } finally {
          this.frames = undefined
        }
        const [validate, execute] = skipValidate ? [undefined, root.calls[0]!] : [root.calls[0], root.calls[1]!]
        const fee = this.feeTransfer(p.account)
        const feeTransfer = { ...frame(p.account, STRK, S.transfer, [SEQUENCER_ADDRESS, 0n, 0n]), result: [1n], events: [{ order: 0, event: fee }] }
        const all = [...events, fee]
        simulated.push({
          ...(validate !== undefined ? { validate } : {}),
          execute: revertReason === undefined ? execute : { revertReason },
          feeTransfer,
          events: all,
          gas: this.gasOf({ calldata: serializeCalls(p.calls), payload: p }, all.length)
        })
      }
      return { simulated }
    })
  }

  /**
   * The pre-confirmed block: the pending transactions due in the next block run in order, in a dry run, as if the
   * block closed at `now` (seconds), or at the timestamp it was pinned to once a transaction ran in it (see `pin`).
   * Each one's outcome and events (a transaction whose validation fails there is left out, as it will be dropped),
   * and the state after them. Cached until the chain changes.
   */
  preConfirmed(now: number, nowMillis = Infinity): PreConfirmed {
    const next = this.latest.number + 1
    // Once the block being built has run a transaction, its timestamp stays: the outcomes readers saw are the ones
    // it closes with (a sequencer executes a transaction once, in the block it opened at its timestamp).
    const pinned = this.pinned?.number === next ? this.pinned.timestamp : undefined
    const timestamp = pinned ?? now
    // A transaction not pre-confirmed yet by `nowMillis` (submissionHidden, candidateFor) is not in the view.
    const waiting = (tx: Tx) => (tx.preConfirmedAtMillis ?? 0) > nowMillis
    // Counted once per epoch and instant: the many reads of one look (a status for each watched transaction) do not
    // each walk the pool.
    const memo = this.notYetMemo
    let notYet = 0
    if (memo !== undefined && memo.epoch === this.epoch && memo.nowMillis === nowMillis) notYet = memo.notYet
    else {
      for (const tx of this.pending) if (waiting(tx)) notYet++
      this.notYetMemo = { epoch: this.epoch, nowMillis, notYet }
    }
    const key = `${this.epoch}:${timestamp}:${notYet}`
    if (this.preview?.key === key) return this.preview.block
    const runs = (tx: Tx) => tx.holdUntil < next && !waiting(tx)
    // The common change since the last preview: one transaction submitted. It runs last, on top of that preview,
    // so the block is extended rather than run again (each execute the paymaster simulates would otherwise rerun
    // the whole block: quadratic in its transactions).
    const appended = this.appended
    const previous = this.preview
    if (
      previous !== undefined && appended !== undefined && appended.epoch === this.epoch && previous.epoch === this.epoch - 1 &&
      previous.block.timestamp === timestamp && previous.notYet === notYet - (waiting(appended.tx) ? 1 : 0)
    ) {
      const block = runs(appended.tx) ? this.extendPreview(previous.block, [appended.tx]) : previous.block
      this.preview = { key, epoch: this.epoch, notYet, block }
      return this.pin(block)
    }
    const block = this.extendPreview({ number: next, timestamp, state: this.contracts, outcomes: new Map() }, this.pending.filter(runs))
    this.preview = { key, epoch: this.epoch, notYet, block }
    return this.pin(block)
  }

  /** Fixes the timestamp of the block being built once a reader has seen a transaction run in it. */
  private pin(block: PreConfirmed): PreConfirmed {
    if (block.outcomes.size > 0 && this.pinned?.number !== block.number) this.pinned = { number: block.number, timestamp: block.timestamp }
    return block
  }

  /** `base` with `txs` run after it, in order, in a dry run. */
  private extendPreview(base: PreConfirmed, txs: ReadonlyArray<Tx>): PreConfirmed {
    const { timestamp } = base
    const outcomes = new Map(base.outcomes)
    const touched = new Set<bigint>()
    const state = this.viewAt(base.state, BigInt(timestamp), () => {
      this.dryTouched = touched
      try {
        for (const tx of txs) {
          const root = this.tracing()
          try {
            const events = [...this.apply(tx.payload, BigInt(timestamp), tx.nonce), this.feeTransfer(tx.sender)]
            outcomes.set(tx, { execution: "SUCCEEDED", events, gas: this.gasOf(tx, events.length), trace: root.calls })
          } catch (error) {
            if (error instanceof Revert) {
              outcomes.set(tx, { execution: "REVERTED", revertReason: error.reason, events: [this.feeTransfer(tx.sender)], gas: this.gasOf(tx, 1) })
            } else if (!(error instanceof Rejected)) throw error
          } finally {
            this.frames = undefined
          }
        }
        // Untouched contracts are shared with the state below; the touched ones are copied before the rollback.
        const after: State = new Map(this.contracts)
        for (const address of touched) {
          const c = this.contracts.get(address)
          if (c !== undefined) after.set(address, copyContract(c))
        }
        return after
      } finally {
        this.dryTouched = undefined
      }
    })
    return { number: base.number, timestamp, state, outcomes }
  }

  /** The fee transfer that ends every receipt: the devnet's gas is free, so it moves 0 STRK to the sequencer. */
  private feeTransfer(sender: bigint): ChainEvent {
    return { fromAddress: STRK, keys: [EVENT.Transfer, sender, SEQUENCER_ADDRESS], data: [0n, 0n] }
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
        // The serialized `Array<Call>` of one call: [1, to, selector, calldata_len, calldata...].
        [1n, payload.account, S.execute_from_outside_v2, BigInt(payload.calldata.length), ...payload.calldata]
      ] as const
      : [payload.account, payload.nonce, serializeCalls(payload.calls)] as const
    const txHash = payload.kind === "invoke" ? this.hashOf(payload) : invokeV3Hash(this.chainId, sender, nonce, calldata)
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
    this.appended = { tx, epoch: this.epoch }
    for (const f of this.onChange) f()
    return tx
  }

  /**
   * Closes block `number` at `closingAt`, or at its pinned timestamp when a pre-confirmed view ran transactions in
   * it: runs the pending transactions in order. The blocks between the latest and `number`, if any, are empty;
   * `gapTimestamp` gives their timestamps.
   */
  closeBlock(number: number, closingAt: number, gapTimestamp: (n: number) => number = () => closingAt) {
    // A block whose pre-confirmed transactions were seen closes at the timestamp they ran at.
    const pinned = this.pinned
    this.pinned = undefined
    const timestamp = pinned !== undefined && pinned.number === number && pinned.timestamp <= closingAt ? pinned.timestamp : closingAt
    const keep: Array<Tx> = []
    const included: Array<Tx> = []
    for (const tx of this.pending) {
      if (tx.holdUntil >= number) {
        keep.push(tx)
        continue
      }
      const root = this.tracing()
      try {
        tx.events = this.apply(tx.payload, BigInt(timestamp), tx.nonce)
        tx.execution = "SUCCEEDED"
        tx.trace = root.calls
      } catch (error) {
        if (error instanceof Revert) {
          tx.execution = "REVERTED"
          tx.revertReason = error.reason
        } else if (error instanceof Rejected) {
          tx.rejected = error.reason
        } else {
          throw error
        }
      } finally {
        this.frames = undefined
      }
      // Included for good (or dropped): nothing to roll back any more.
      this.journal.length = 0
      this.events.length = 0
      // A transaction whose validation fails when its turn comes is dropped, as a sequencer drops it: never
      // included, never a status (there is no REJECTED in RPC 0.9).
      if (tx.rejected !== undefined) continue
      // The fee transfer ends every receipt, reverted ones too: the devnet's gas is free, so it moves 0 STRK.
      tx.events = [...tx.events, this.feeTransfer(tx.sender)]
      tx.gas = this.gasOf(tx, tx.events.length)
      tx.blockNumber = number
      included.push(tx)
    }
    this.pending.length = 0
    this.pending.push(...keep)
    this.latest = { number, timestamp }
    this.epoch++
    this.commit(number)
    this.blocks.close(number, timestamp, included, gapTimestamp)
    for (const f of this.onChange) f()
  }
}
