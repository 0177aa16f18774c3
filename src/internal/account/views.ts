/**
 * What an execute's preflight read for a session, kept per `StarknetRpc` service (one per layer) so that the next
 * execute of the session within the service's `preflightReuse` need not read it again (see `readChainState`).
 */
import { Effect } from "effect"
import type { Address, Felt } from "../../Schemas.js"
import { type BlockInfo, StarknetRpc } from "../../StarknetRpc.js"
import type { Policy } from "./spending.js"

/** What one round of reads saw for a session at one block. */
export interface View {
  readonly block: BlockInfo
  /** When it was read, `performance.now()` (real time, whatever the `Clock`). */
  readonly at: number
  readonly felts: ReadonlyArray<Felt>
  readonly allowedEntrypoints: ReadonlyArray<Felt> | undefined
  /** The policy of each token read, by token. */
  readonly policies: ReadonlyMap<bigint, Policy>
  /** Nonces of open payloads read unused at `block`. */
  readonly unused: ReadonlySet<bigint>
}

/** Sessions (and their used nonces) remembered per layer at most; the oldest are forgotten first. */
const MAX_VIEWS = 10_000

export class Views {
  /** The latest block a fresh read saw, and when (real time) it was first seen. */
  private lastBlock: { readonly number: number; readonly seenAt: number } | undefined
  /** The time between blocks, as fresh reads have seen it (milliseconds; unknown until two blocks were seen). */
  blockInterval: number | undefined
  /** A fresh read saw this block now. */
  sawBlock(number: number, now: number) {
    const last = this.lastBlock
    if (last === undefined || number > last.number) {
      if (last !== undefined) this.blockInterval = (now - last.seenAt) / (number - last.number)
      this.lastBlock = { number, seenAt: now }
    }
  }
  /** How long a view may be reused: `max`, and less than half the chain's time between blocks once it is known. */
  maxAge(max: number) {
    return this.blockInterval === undefined ? max : Math.min(max, this.blockInterval / 2)
  }
  /**
   * The view of a session when it is recent enough to answer instead of reads (`readChainState`'s `reuse`, which
   * also asks that it hold what the calls need): younger than `maxAge(max)`.
   */
  recent(key: string, max: number): View | undefined {
    const view = this.sessions.get(key)
    const age = this.maxAge(max)
    return view !== undefined && age > 0 && performance.now() - view.at < age ? view : undefined
  }
  readonly sessions = new Map<string, View>()
  /** Nonces seen used: a used nonce stays used, so it is never read again. */
  readonly used = new Map<string, Set<bigint>>()
  get(key: string) {
    return this.sessions.get(key)
  }
  set(key: string, view: View) {
    this.sessions.delete(key)
    if (this.sessions.size >= MAX_VIEWS) this.sessions.delete(this.sessions.keys().next().value!)
    this.sessions.set(key, view)
  }
  usedOf(key: string) {
    let set = this.used.get(key)
    if (set === undefined) {
      if (this.used.size >= MAX_VIEWS) this.used.delete(this.used.keys().next().value!)
      set = new Set()
      this.used.set(key, set)
    }
    return set
  }
}

const views = new WeakMap<object, Views>()

/** The views of this service. */
export const viewsOf = (rpc: StarknetRpc["Type"]): Views => {
  let v = views.get(rpc)
  if (v === undefined) {
    v = new Views()
    views.set(rpc, v)
  }
  return v
}

export const sessionKeyOf = (wallet: Address | string, sessionPublicKey: Felt | string): string => {
  try {
    return `${BigInt(wallet).toString(16)}:${BigInt(sessionPublicKey).toString(16)}`
  } catch {
    return `${wallet}:${sessionPublicKey}`
  }
}

/**
 * Forgets the view of a session kept by the current layer: its state changes from here (a register, revoke or
 * policy change sent, or seen final).
 */
export const forgetView = (wallet: Address | string, sessionPublicKey: Felt | string): Effect.Effect<void, never, StarknetRpc> =>
  Effect.map(StarknetRpc, (rpc) => {
    viewsOf(rpc).sessions.delete(sessionKeyOf(wallet, sessionPublicKey))
  })
