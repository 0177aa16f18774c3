/**
 * The ledger of payments and sessions: what this library must remember so that a payment moves at most once.
 *
 * - **Payments.** Every signed outside execution is recorded under its idempotency key *before* it is sent: the
 *   nonce, the window, the typed data, the signature and the calls asked. A later execute with the same key sends
 *   that same payload again (the chain accepts one nonce once), and an unknown outcome is resolved from the chain
 *   with what the record holds.
 * - **Reservations.** Calls reserved by executes in flight, per session, so that concurrent executes never exceed
 *   a session's calls.
 * - **What was registered from here:** allow-lists and the own `validUntil` of keys created here.
 *
 * The in-memory layer (`layer`) is the default: it lives as long as the process. A durable store implements the
 * same service: every value is serialisable (`Payment` is a `Schema`), records are keyed by
 * `(wallet, idempotencyKey)`, reservations by session, and `recordPayment` is the one operation that must be
 * atomic ("record if absent, or in place of a given dead record", and with budget charges: "… and only while every
 * budget the charges name has room", see `BudgetCharge`).
 * - **Budgets, halts and session policies** (see the `Policies` module): what a wallet's payments spent per token,
 *   counted across all its sessions and every instance on the same store; wallets whose payments are stopped
 *   (`Sessions.revokeAll`); the policy attached to a session key.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { LedgerError, PolicyViolation } from "./Errors.js"
import { OutsideExecutionTypedData } from "./OutsideExecution.js"
import { Address, Call, Felt, TxHash } from "./Schemas.js"

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------

/**
 * Where a recorded payload stands.
 *
 * - `pending`: recorded, maybe sent; no answer yet (or the answer was lost).
 * - `submitted`: the paymaster answered its transaction hash; not yet seen final.
 * - `refused`: the last attempt was refused (simulation); its nonce is unused and it stays valid until
 *   `executeBefore`.
 * - `reverted`: seen reverted on chain; its nonce is unused and it stays valid until `executeBefore`.
 * - `executed`: its nonce is used on chain (`transactionHash` when found).
 * - `not-executed`: its window closed with its nonce unused: dead, it can never execute.
 *
 * @since 0.1.0
 * @category models
 */
export const PaymentStatus = Schema.Literal("pending", "submitted", "refused", "reverted", "executed", "not-executed")
/** @since 0.1.0 */
export type PaymentStatus = typeof PaymentStatus.Type

/**
 * What a payload was for: a session execute, or an owner's register, revoke or spending-policy change.
 *
 * @since 0.1.0
 * @category models
 */
export const PaymentPurpose = Schema.Literal("execute", "register", "revoke", "policy")
/** @since 0.1.0 */
export type PaymentPurpose = typeof PaymentPurpose.Type

/**
 * A signed outside execution recorded under its idempotency key. Serialisable: `Schema.encode(Payment)` gives
 * plain JSON.
 *
 * @since 0.1.0
 * @category models
 */
export const Payment = Schema.Struct({
  wallet: Address,
  idempotencyKey: Schema.String,
  purpose: PaymentPurpose,
  /** The session key that signed it (`execute`), or the session it concerns (`register` / `revoke`). */
  sessionPublicKey: Felt,
  /** The outside-execution nonce: consumed on chain exactly when the payload executed. */
  nonce: Felt,
  /** The signed window, seconds (strict on both sides on chain). */
  executeAfter: Schema.Number,
  executeBefore: Schema.Number,
  typedData: OutsideExecutionTypedData,
  signature: Schema.Array(Felt),
  /** The calls asked. */
  calls: Schema.Array(Call),
  /** The latest block when it was recorded: a search for its transaction starts there. */
  firstBlock: Schema.Number,
  /** When it was recorded, milliseconds since the Unix epoch. */
  recordedAt: Schema.Number,
  status: PaymentStatus,
  transactionHash: Schema.optional(TxHash),
  /** The refusal or revert reason of its last attempt. */
  reason: Schema.optional(Schema.String),
  /** The reservation its execute holds, given back if it turns out not to have counted. */
  reservation: Schema.optional(Schema.String)
}).annotations({ identifier: "Payment" })
/** @since 0.1.0 */
export type Payment = typeof Payment.Type

/**
 * A change of a record's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface PaymentUpdate {
  readonly status: PaymentStatus
  readonly transactionHash?: TxHash
  readonly reason?: string
  readonly reservation?: string
}

/**
 * A session: a wallet and one of its session keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionRef {
  readonly wallet: Address
  readonly sessionPublicKey: Felt
}

/**
 * An owner change of a session in progress (see `Ledger.fence`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fence {
  /** The key the change's own payload is recorded under. */
  readonly idempotencyKey: string
  /** When the fence lapses at the latest, milliseconds since the Unix epoch. */
  readonly until: number
}

/**
 * The answer of `reserve`: a reservation, or the count of calls known used that left none.
 *
 * @since 0.1.0
 * @category models
 */
export type Reserved =
  | { readonly ok: true; readonly reservation: string; readonly used: number }
  | { readonly ok: false; readonly used: number }

/**
 * What a payment spends of one token, checked against the wallet's budgets for that token and recorded with the
 * payment in one atomic step (`recordPayment`): `amount` counts against each of `limits` (a maximum over a rolling
 * window of `windowSeconds`) together with every other payment of the wallet, from any session, recorded in that
 * window and still able to count. Every execute that moves a token records its charge, with no limits when no
 * budget names the token, so that a budget counts the wallet's payments from every session.
 *
 * A charge counts until its payment is known not to have moved money: its record is marked `not-executed` (or
 * `releaseBudget` is called, for a payment that executed without effect), or its record was refused or reverted and
 * its window is over. An outcome still unknown holds its charge.
 *
 * @since 0.1.0
 * @category models
 */
export interface BudgetCharge {
  readonly token: Address
  readonly amount: bigint
  /** The first call of the payment on this token (named by a refusal). */
  readonly callIndex: number
  readonly limits: ReadonlyArray<{ readonly amount: bigint; readonly windowSeconds: number }>
}

/**
 * A budget entry no longer counts: released, or its record (under the same nonce) is final without effect, or it
 * was refused or reverted and its window (plus a minute for clocks) is over at `now` (milliseconds).
 *
 * @since 0.1.0
 * @category predicates
 */
export const budgetEntryLapsed = (
  record: { readonly status: PaymentStatus; readonly executeBefore: number } | undefined,
  now: number
): boolean =>
  record !== undefined && (
    record.status === "not-executed" ||
    ((record.status === "refused" || record.status === "reverted") && (record.executeBefore + 60) * 1000 < now)
  )

/** The refusal of a charge that a budget has no room for. */
export const budgetRefusal = (
  payment: Pick<Payment, "wallet" | "sessionPublicKey">,
  charge: BudgetCharge,
  limit: { readonly amount: bigint; readonly windowSeconds: number },
  spent: bigint
) =>
  new PolicyViolation({
    rule: "budget",
    callIndex: charge.callIndex,
    wallet: payment.wallet,
    sessionPublicKey: payment.sessionPublicKey,
    token: charge.token,
    amount: charge.amount,
    limit: limit.amount,
    spent,
    windowSeconds: limit.windowSeconds,
    detail: `${charge.amount} of token ${charge.token} is above what is left (${limit.amount > spent ? limit.amount - spent : 0n}) ` +
      `of the wallet's budget of ${limit.amount} per ${limit.windowSeconds} s`
  })

/**
 * Whether a record can still execute: it is not final and its window has not closed at `now` (seconds).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLive = (payment: Payment, now: number): boolean =>
  payment.status !== "executed" && payment.status !== "not-executed" && now < payment.executeBefore

// ---------------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------------

/**
 * The ledger. Every operation may fail with `LedgerError` (a durable store's fault); the library then sends
 * nothing.
 *
 * @since 0.1.0
 * @category tags
 */
export class Ledger extends Context.Tag("starknet-session-keys/Ledger")<
  Ledger,
  {
    /**
     * Records `payment` under `(wallet, idempotencyKey)` if no record is there, or in place of the record there
     * when its nonce is `replacing` (a dead record). Atomic. Answers the record stored now: `payment`, or the
     * one that was there (then `payment` was not recorded and must not be sent). With `charges`, the payment is
     * recorded only when every budget they name has room for them (else `PolicyViolation` with rule `budget`, and
     * nothing is recorded), and the charges are recorded with it, in the same atomic step: two instances racing for
     * the last of a budget cannot both record.
     */
    readonly recordPayment: (
      payment: Payment,
      options?: { readonly replacing?: Felt; readonly charges?: ReadonlyArray<BudgetCharge> }
    ) => Effect.Effect<Payment, LedgerError | PolicyViolation>
    /** The record under a key. */
    readonly payment: (wallet: Address, idempotencyKey: string) => Effect.Effect<Payment | undefined, LedgerError>
    /** The record whose transaction hash this is. */
    readonly paymentByHash: (txHash: TxHash) => Effect.Effect<Payment | undefined, LedgerError>
    /** Changes a record's state; nothing when the record under the key no longer has this nonce. */
    readonly updatePayment: (
      wallet: Address,
      idempotencyKey: string,
      nonce: Felt,
      update: PaymentUpdate
    ) => Effect.Effect<void, LedgerError>
    /** The records of a session that are not final (`executed` or `not-executed`), whatever their window. */
    readonly openPayments: (session: SessionRef) => Effect.Effect<ReadonlyArray<Payment>, LedgerError>
    /**
     * Reserves one call of a session when `max(chain's count, reserved here) < maxCalls`; answers the count seen.
     * With `idempotencyKey`, a reservation still held for that key is answered again instead of a second one: an
     * execute that died between its reservation and its record (a killed process) leaves one call reserved, and
     * its replay under the same key takes that call rather than counting it twice.
     */
    readonly reserve: (
      session: SessionRef,
      chain: { readonly callsUsed: number; readonly maxCalls: number },
      idempotencyKey?: string
    ) => Effect.Effect<Reserved, LedgerError>
    /** Gives a reserved call back. Idempotent; nothing for a reservation from before the session's reset. */
    readonly release: (reservation: string) => Effect.Effect<void, LedgerError>
    /** The session was (re-)registered or revoked: its count starts afresh, with this allow-list. */
    readonly resetSession: (session: SessionRef, allowedEntrypoints?: ReadonlyArray<Felt>) => Effect.Effect<void, LedgerError>
    /** The allow-list registered from here, when known. */
    readonly allowedEntrypoints: (session: SessionRef) => Effect.Effect<ReadonlyArray<Felt> | undefined, LedgerError>
    /**
     * An owner change that can revive a session's refused payloads (a re-registration, a spending-policy change)
     * starts: until `clearFence`, or `until` (milliseconds since the Unix epoch), an execute of the session that
     * records a new payload waits for that change (recorded under `idempotencyKey`) to be decided before sending
     * it. A later fence of the session replaces it.
     */
    readonly fence: (session: SessionRef, fence: Fence) => Effect.Effect<void, LedgerError>
    /** The fence in force on a session at `now` (milliseconds), if any. */
    readonly fenceOf: (session: SessionRef, now: number) => Effect.Effect<Fence | undefined, LedgerError>
    /** Lifts the session's fence when it is the one set under `idempotencyKey`. */
    readonly clearFence: (session: SessionRef, idempotencyKey: string) => Effect.Effect<void, LedgerError>
    /** Remembers a session key created here, with its own `validUntil`. */
    readonly rememberKey: (publicKey: Felt, validUntil: number) => Effect.Effect<void, LedgerError>
    /** The own `validUntil` of a session key created here. */
    readonly keyValidUntil: (publicKey: Felt) => Effect.Effect<number | undefined, LedgerError>
    /**
     * What the wallet's payments of `token` that still count (see `BudgetCharge`) spent in the `windowSeconds` up
     * to `now` (milliseconds), but for the payment under `except`.
     */
    readonly budgetSpent: (
      wallet: Address,
      token: Address,
      windowSeconds: number,
      now: number,
      except?: string
    ) => Effect.Effect<bigint, LedgerError>
    /**
     * Gives back the budget charges of the payment under a key (of its payload with `nonce`, when given): for a
     * payment known not to have moved money. Idempotent. A record marked `not-executed` releases its charges by
     * itself; a payment that executed without effect must be released by whoever learns it.
     */
    readonly releaseBudget: (wallet: Address, idempotencyKey: string, nonce?: Felt) => Effect.Effect<void, LedgerError>
    /** Stops the wallet's payments from `since` (milliseconds) on, until `resume`. */
    readonly halt: (wallet: Address, since: number) => Effect.Effect<void, LedgerError>
    /** Lets the wallet's payments through again. */
    readonly resume: (wallet: Address) => Effect.Effect<void, LedgerError>
    /** When the wallet's payments were stopped, if they are. */
    readonly haltedSince: (wallet: Address) => Effect.Effect<number | undefined, LedgerError>
    /** Attaches a policy (encoded, see `Policies`) to a session key; `undefined` detaches it. */
    readonly setSessionPolicy: (sessionPublicKey: Felt, policy: string | undefined) => Effect.Effect<void, LedgerError>
    /** The policy attached to a session key, encoded. */
    readonly sessionPolicy: (sessionPublicKey: Felt) => Effect.Effect<string | undefined, LedgerError>
    /** The session keys of a wallet this ledger knows of: registered, revoked or paid with from here. */
    readonly sessionsOf: (wallet: Address) => Effect.Effect<ReadonlyArray<Felt>, LedgerError>
  }
>() {}

/**
 * A transaction reached a final status: the record it belongs to learns it, and when the chain did not count it
 * (reverted), its reserved call is given back. Used by `Transactions.wait` and `getStatus`; a fault of the ledger
 * here is logged, not raised (the wait's answer stands).
 *
 * @since 0.1.0
 * @category combinators
 */
export const settle = (txHash: TxHash, counted: boolean, reason?: string): Effect.Effect<void> =>
  Effect.serviceOption(Ledger).pipe(
    Effect.flatMap((ledger) =>
      ledger._tag === "None" ? Effect.void : Effect.gen(function*() {
        const payment = yield* ledger.value.paymentByHash(txHash)
        if (payment === undefined || payment.status === "executed" || payment.status === "not-executed") return
        // An owner change decided: executes of its session that waited for it may send.
        if (payment.purpose !== "execute") yield* ledger.value.clearFence(payment, payment.idempotencyKey)
        if (counted) {
          yield* ledger.value.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "executed", transactionHash: txHash })
          return
        }
        if (payment.reservation !== undefined) yield* ledger.value.release(payment.reservation)
        yield* ledger.value.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, {
          status: "reverted",
          transactionHash: txHash,
          ...(reason !== undefined ? { reason } : {})
        })
      })
    ),
    Effect.catchAll((error) => Effect.logWarning("the ledger could not record a final status", error))
  )

// ---------------------------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------------------------

/** Settled records kept at most (the oldest forgotten first); records not settled are all kept. */
const KEPT = 10_000
/** Budget entries kept per wallet at most (the oldest forgotten first). */
const BUDGET_KEPT = 100_000

const norm = (hex: string) => {
  try {
    return BigInt(hex).toString(16)
  } catch {
    return hex
  }
}
const sessionKey = (s: SessionRef) => `${norm(s.wallet)}:${norm(s.sessionPublicKey)}`
const paymentKey = (wallet: string, idempotencyKey: string) => `${norm(wallet)}|${idempotencyKey}`

interface BudgetEntry {
  readonly idempotencyKey: string
  readonly nonce: string
  readonly token: string
  readonly amount: bigint
  /** When its payment was recorded, milliseconds. */
  readonly at: number
  released: boolean
}

interface SessionEntry {
  /** Calls known used: the chain's count, raised by every reservation made here since the last reset. */
  used: number
  /** Reservations counted in `used`. */
  readonly live: Set<string>
  allowedEntrypoints?: ReadonlyArray<Felt>
}

/** What the in-memory ledger holds. */
interface Memory {
  readonly payments: Map<string, Payment>
  /** The records not settled, by session (`sessionKey`), then by `paymentKey`: what `openPayments` reads. */
  readonly open: Map<string, Map<string, Payment>>
  readonly byHash: Map<string, string>
  readonly sessions: Map<string, SessionEntry>
  readonly reservations: Map<string, string>
  readonly keys: Map<string, number>
  readonly fences: Map<string, Fence>
  readonly halts: Map<string, number>
  readonly policies: Map<string, string>
  /** Budget entries per wallet. */
  readonly budget: Map<string, Array<BudgetEntry>>
  reservationCounter: number
}

const entry = (m: Memory, s: SessionRef) => {
  const key = sessionKey(s)
  let e = m.sessions.get(key)
  if (e === undefined) {
    e = { used: 0, live: new Set() }
    m.sessions.set(key, e)
  }
  return e
}
const isFinal = (p: Payment) => p.status === "executed" || p.status === "not-executed"
/**
 * Forgets the oldest settled records beyond the bound. A record not settled is never forgotten, even past its
 * window: its nonce may have been used, and forgetting it would let its key pay again.
 */
const sweep = (m: Memory) => {
  if (m.payments.size <= KEPT) return
  for (const [key, p] of m.payments) {
    if (m.payments.size <= KEPT) break
    if (isFinal(p)) {
      m.payments.delete(key)
      if (p.transactionHash !== undefined) m.byHash.delete(norm(p.transactionHash))
    }
  }
}
const counts = (m: Memory, wallet: string, e: BudgetEntry, now: number) => {
  if (e.released) return false
  const record = m.payments.get(paymentKey(wallet, e.idempotencyKey))
  // A record replaced since (a new payload under the key) leaves this entry's payload dead.
  if (record !== undefined && norm(record.nonce) !== e.nonce) return false
  return !budgetEntryLapsed(record, now)
}
const spentOf = (m: Memory, wallet: string, token: string, windowSeconds: number, now: number, except?: string) => {
  let spent = 0n
  const since = now - windowSeconds * 1000
  for (const e of m.budget.get(norm(wallet)) ?? []) {
    if (e.token === norm(token) && e.at > since && e.idempotencyKey !== except && counts(m, wallet, e, now)) spent += e.amount
  }
  return spent
}
const releaseEntries = (m: Memory, wallet: string, idempotencyKey: string, nonce?: string) => {
  for (const e of m.budget.get(norm(wallet)) ?? []) {
    if (e.idempotencyKey === idempotencyKey && (nonce === undefined || e.nonce === norm(nonce))) e.released = true
  }
}
const store = (m: Memory, p: Payment) => {
  const key = paymentKey(p.wallet, p.idempotencyKey)
  m.payments.set(key, p)
  if (p.transactionHash !== undefined) m.byHash.set(norm(p.transactionHash), key)
  const session = sessionKey(p)
  let open = m.open.get(session)
  if (isFinal(p)) {
    if (open?.delete(key) === true && open.size === 0) m.open.delete(session)
    return
  }
  if (open === undefined) m.open.set(session, open = new Map())
  open.set(key, p)
}

/** Records a payment unless its key holds one (other than the one it replaces), its budget charges within limits. */
const recordPaymentIn = (m: Memory): Ledger["Type"]["recordPayment"] => (payment, options) =>
  Effect.suspend(() => {
    const existing = m.payments.get(paymentKey(payment.wallet, payment.idempotencyKey))
    if (existing !== undefined && (options?.replacing === undefined || norm(existing.nonce) !== norm(options.replacing))) {
      return Effect.succeed(existing)
    }
    const charges = options?.charges ?? []
    for (const charge of charges) {
      for (const limit of charge.limits) {
        const spent = spentOf(m, payment.wallet, charge.token, limit.windowSeconds, payment.recordedAt, payment.idempotencyKey)
        if (spent + charge.amount > limit.amount) return Effect.fail(budgetRefusal(payment, charge, limit, spent))
      }
    }
    if (existing?.transactionHash !== undefined) m.byHash.delete(norm(existing.transactionHash))
    store(m, payment)
    sweep(m)
    if (charges.length > 0) {
      const w = norm(payment.wallet)
      // Entries of this key's earlier payloads and released ones go; the newest BUDGET_KEPT per wallet stay.
      const kept = (m.budget.get(w) ?? []).filter((e) => e.idempotencyKey !== payment.idempotencyKey && !e.released).slice(-BUDGET_KEPT)
      for (const charge of charges) {
        kept.push({
          idempotencyKey: payment.idempotencyKey,
          nonce: norm(payment.nonce),
          token: norm(charge.token),
          amount: charge.amount,
          at: payment.recordedAt,
          released: false
        })
      }
      m.budget.set(w, kept)
    }
    return Effect.succeed(payment)
  })

type PaymentsPart = "recordPayment" | "payment" | "paymentByHash" | "updatePayment" | "openPayments" | "budgetSpent" | "releaseBudget"

/** The payment records and their budget charges. */
const paymentsIn = (m: Memory): Pick<Ledger["Type"], PaymentsPart> => ({
  recordPayment: recordPaymentIn(m),
  payment: (wallet, idempotencyKey) => Effect.sync(() => m.payments.get(paymentKey(wallet, idempotencyKey))),
  paymentByHash: (txHash) =>
    Effect.sync(() => {
      const key = m.byHash.get(norm(txHash))
      return key === undefined ? undefined : m.payments.get(key)
    }),
  updatePayment: (wallet, idempotencyKey, nonce, update) =>
    Effect.sync(() => {
      const existing = m.payments.get(paymentKey(wallet, idempotencyKey))
      if (existing === undefined || norm(existing.nonce) !== norm(nonce)) return
      store(m, { ...existing, ...update })
      if (update.status === "not-executed") releaseEntries(m, wallet, idempotencyKey, nonce)
    }),
  openPayments: (session) => Effect.sync(() => [...(m.open.get(sessionKey(session))?.values() ?? [])]),
  budgetSpent: (wallet, token, windowSeconds, now, except) => Effect.sync(() => spentOf(m, wallet, token, windowSeconds, now, except)),
  releaseBudget: (wallet, idempotencyKey, nonce) => Effect.sync(() => releaseEntries(m, wallet, idempotencyKey, nonce))
})

type SessionsPart = "reserve" | "release" | "resetSession" | "allowedEntrypoints" | "fence" | "fenceOf" | "clearFence" | "sessionsOf"

/** What is known of each session: its reserved calls, its allow-list, its fence. */
const sessionsIn = (m: Memory): Pick<Ledger["Type"], SessionsPart> => ({
  reserve: (session, chain, idempotencyKey) =>
    Effect.sync((): Reserved => {
      const e = entry(m, session)
      const used = Math.max(chain.callsUsed, e.used)
      const held = idempotencyKey === undefined ? undefined : `${sessionKey(session)}|k:${idempotencyKey}`
      if (held !== undefined && e.live.has(held) && chain.callsUsed < chain.maxCalls) {
        return { ok: true, reservation: held, used: Math.max(0, used - 1) }
      }
      if (used >= chain.maxCalls) return { ok: false, used }
      const reservation = held ?? `r${++m.reservationCounter}`
      e.used = used + 1
      e.live.add(reservation)
      m.reservations.set(reservation, sessionKey(session))
      return { ok: true, reservation, used }
    }),
  release: (reservation) =>
    Effect.sync(() => {
      const key = m.reservations.get(reservation)
      if (key === undefined) return
      m.reservations.delete(reservation)
      const e = m.sessions.get(key)
      if (e !== undefined && e.live.delete(reservation)) e.used = Math.max(0, e.used - 1)
    }),
  resetSession: (session, allowedEntrypoints) =>
    Effect.sync(() => {
      const e = entry(m, session)
      for (const r of e.live) m.reservations.delete(r)
      e.live.clear()
      e.used = 0
      if (allowedEntrypoints !== undefined) e.allowedEntrypoints = allowedEntrypoints
      else delete e.allowedEntrypoints
    }),
  allowedEntrypoints: (session) => Effect.sync(() => m.sessions.get(sessionKey(session))?.allowedEntrypoints),
  fence: (session, fence) => Effect.sync(() => void m.fences.set(sessionKey(session), fence)),
  fenceOf: (session, now) =>
    Effect.sync(() => {
      const key = sessionKey(session)
      const fence = m.fences.get(key)
      if (fence !== undefined && fence.until <= now) m.fences.delete(key)
      return fence !== undefined && fence.until > now ? fence : undefined
    }),
  clearFence: (session, idempotencyKey) =>
    Effect.sync(() => {
      const key = sessionKey(session)
      if (m.fences.get(key)?.idempotencyKey === idempotencyKey) m.fences.delete(key)
    }),
  sessionsOf: (wallet) =>
    Effect.sync(() => {
      const found = new Set<string>()
      const prefix = `${norm(wallet)}:`
      for (const key of m.sessions.keys()) if (key.startsWith(prefix)) found.add(key.slice(prefix.length))
      for (const p of m.payments.values()) if (norm(p.wallet) === norm(wallet)) found.add(norm(p.sessionPublicKey))
      return [...found].map((hex) => `0x${hex}` as Felt)
    })
})

type KeysAndWalletsPart = "rememberKey" | "keyValidUntil" | "halt" | "resume" | "haltedSince" | "setSessionPolicy" | "sessionPolicy"

/** Remembered session keys, halted wallets and the policies attached to session keys. */
const keysAndWalletsIn = (m: Memory): Pick<Ledger["Type"], KeysAndWalletsPart> => ({
  rememberKey: (publicKey, validUntil) =>
    Effect.sync(() => {
      if (m.keys.size >= KEPT) m.keys.delete(m.keys.keys().next().value!)
      m.keys.set(norm(publicKey), validUntil)
    }),
  keyValidUntil: (publicKey) => Effect.sync(() => m.keys.get(norm(publicKey))),
  halt: (wallet, since) =>
    Effect.sync(() => {
      if (!m.halts.has(norm(wallet))) m.halts.set(norm(wallet), since)
    }),
  resume: (wallet) => Effect.sync(() => void m.halts.delete(norm(wallet))),
  haltedSince: (wallet) => Effect.sync(() => m.halts.get(norm(wallet))),
  setSessionPolicy: (sessionPublicKey, policy) =>
    Effect.sync(() => {
      if (policy === undefined) m.policies.delete(norm(sessionPublicKey))
      else m.policies.set(norm(sessionPublicKey), policy)
    }),
  sessionPolicy: (sessionPublicKey) => Effect.sync(() => m.policies.get(norm(sessionPublicKey)))
})

/**
 * Builds an in-memory ledger.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Ledger["Type"]> = Effect.sync(() => {
  const m: Memory = {
    payments: new Map(),
    open: new Map(),
    byHash: new Map(),
    sessions: new Map(),
    reservations: new Map(),
    keys: new Map(),
    fences: new Map(),
    halts: new Map(),
    policies: new Map(),
    budget: new Map(),
    reservationCounter: 0
  }
  return Ledger.of({ ...paymentsIn(m), ...sessionsIn(m), ...keysAndWalletsIn(m) })
})

/**
 * The in-memory ledger: one per process (or per set of sessions that share a wallet). What it holds is lost with
 * the process, and of settled payments it keeps the last 10,000 (an idempotency key older than that is forgotten);
 * use a durable layer of `Ledger` where a restart must not forget a payment in flight.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Ledger> = Layer.effect(Ledger, makeMemory)

/**
 * The same, as `layerMemory` for symmetry with durable layers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Ledger> = layer
