/**
 * The process-local ledger of sessions: calls reserved by executes this process sent, so that concurrent executes
 * never exceed a session's calls, and the allow-lists registered from here. A reservation is given back when its
 * submission fails, or when a wait or a status read sees its transaction reverted or rejected (the chain did not
 * count it).
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { StoredSession } from "./preflight.js"
import type { Address, Call, Felt } from "../Schemas.js"

interface LedgerEntry {
  /** Calls known used: the chain's count, raised by every execute this process submitted. */
  readonly used: number
  readonly allowedEntrypoints?: ReadonlyArray<Felt>
}

/** What an execute asked: enough to explain the chain's refusal of it with a precise typed error. */
export interface Asked {
  readonly wallet: Address
  readonly sessionPublicKey: Felt
  readonly calls: ReadonlyArray<Call>
}

/** Submissions still followed, at most this many (the oldest are forgotten first). */
const TRACKED = 10_000

export class Ledger extends Context.Tag("starknet-session-keys/Sessions/Ledger")<
  Ledger,
  {
    /** Reserves one call when `max(chain's count, reserved) < maxCalls`; answers the count it saw. */
    readonly reserve: (key: string, stored: StoredSession) => Effect.Effect<{ readonly ok: boolean; readonly used: number }>
    readonly release: (key: string) => Effect.Effect<void>
    readonly reset: (key: string, allowedEntrypoints?: ReadonlyArray<Felt>) => Effect.Effect<void>
    readonly allowedEntrypoints: (key: string) => Effect.Effect<ReadonlyArray<Felt> | undefined>
    /** Follows a sent submission: which session's call it reserved, and what it asked (to explain a revert). */
    readonly track: (txHash: string, key: string, asked?: Asked) => Effect.Effect<void>
    /** What a submission sent from here asked, while it is remembered. */
    readonly asked: (txHash: string) => Effect.Effect<Asked | undefined>
    /** A followed submission reached a final status: when the chain did not count it, its call is given back. */
    readonly settle: (txHash: string, counted: boolean) => Effect.Effect<void>
    /** Remembers a session key created here, with its own `validUntil`. */
    readonly rememberKey: (publicKey: string, validUntil: number) => Effect.Effect<void>
    /** The own `validUntil` of a session key created here. */
    readonly keyValidUntil: (publicKey: string) => Effect.Effect<number | undefined>
  }
>() {}

/** Sets `key` in a map kept to `TRACKED` entries, the oldest forgotten first. */
const remember = <V>(map: Map<string, V>, key: string, value: V) => {
  if (map.size >= TRACKED) map.delete(map.keys().next().value!)
  map.set(key, value)
}

const hashKey = (txHash: string) => {
  try {
    return BigInt(txHash).toString(16)
  } catch {
    return txHash
  }
}

const makeLedger = Effect.gen(function*() {
  const state = yield* Ref.make(new Map<string, LedgerEntry>())
  const tracked = new Map<string, string>()
  const keys = new Map<string, number>()
  const askedBy = new Map<string, Asked>()
  const update = (f: (m: Map<string, LedgerEntry>) => void) =>
    Ref.update(state, (m) => {
      const next = new Map(m)
      f(next)
      return next
    })
  const release = (key: string) =>
    update((m) => {
      const entry = m.get(key)
      if (entry !== undefined) m.set(key, { ...entry, used: Math.max(0, entry.used - 1) })
    })
  return Ledger.of({
    reserve: (key, stored) =>
      Ref.modify(state, (m): readonly [{ readonly ok: boolean; readonly used: number }, Map<string, LedgerEntry>] => {
        const entry = m.get(key)
        const used = Math.max(stored.callsUsed, entry?.used ?? 0)
        if (used >= stored.maxCalls) return [{ ok: false, used }, m]
        const next = new Map(m)
        next.set(key, { ...entry, used: used + 1 })
        return [{ ok: true, used }, next]
      }),
    release,
    reset: (key, allowedEntrypoints) =>
      update((m) => {
        m.set(key, allowedEntrypoints !== undefined ? { used: 0, allowedEntrypoints } : { used: 0 })
      }),
    allowedEntrypoints: (key) => Ref.get(state).pipe(Effect.map((m) => m.get(key)?.allowedEntrypoints)),
    track: (txHash, key, asked) =>
      Effect.sync(() => {
        remember(tracked, hashKey(txHash), key)
        if (asked !== undefined) remember(askedBy, hashKey(txHash), asked)
      }),
    asked: (txHash) => Effect.sync(() => askedBy.get(hashKey(txHash))),
    settle: (txHash, counted) =>
      Effect.suspend(() => {
        const key = tracked.get(hashKey(txHash))
        if (key === undefined) return Effect.void
        tracked.delete(hashKey(txHash))
        return counted ? Effect.void : release(key)
      }),
    rememberKey: (publicKey, validUntil) =>
      Effect.sync(() => remember(keys, hashKey(publicKey), validUntil)),
    keyValidUntil: (publicKey) => Effect.sync(() => keys.get(hashKey(publicKey)))
  })
})

export const layer: Layer.Layer<Ledger> = Layer.effect(Ledger, makeLedger)
