/**
 * The `Ledger` in a SQL database (Postgres, or PGlite served on loopback): idempotency records, call reservations
 * and remembered keys shared by every instance on the database. The one operation that must be atomic, "record if
 * absent (or in place of a given dead record)", is a single `INSERT … ON CONFLICT`; a reservation is a row lock.
 * A record with budget charges is one transaction under the wallet's advisory lock: the budgets' sums read, the
 * record and its charges written, so two instances racing for the last of a budget take turns.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { LedgerError, PolicyViolation } from "../../Errors.js"
import { budgetRefusal, Ledger, Payment, type PaymentStatus, type Reserved, type SessionRef } from "../../Ledger.js"
import type { Felt } from "../../Schemas.js"

const norm = (hex: string) => {
  try {
    return "0x" + BigInt(hex).toString(16)
  } catch {
    return hex
  }
}
const sessionKey = (s: SessionRef) => `${norm(s.wallet)}:${norm(s.sessionPublicKey)}`

interface PaymentRow {
  readonly body: string
  readonly status: PaymentStatus
  readonly transaction_hash: string | null
  readonly reason: string | null
  readonly reservation: string | null
}

const encodePayment = Schema.encodeSync(Payment)
const decodePayment = Schema.decodeUnknown(Payment)

/** Creates the tables once per database (concurrent starters take turns through an advisory lock). */
const migrate = (sql: SqlClient.SqlClient, prefix: string) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${prefix + "_ledger_migrate"}))`
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_payments (
      wallet TEXT NOT NULL,
      idempotency_key TEXT NOT NULL,
      nonce TEXT NOT NULL,
      session TEXT NOT NULL,
      status TEXT NOT NULL,
      transaction_hash TEXT,
      reason TEXT,
      reservation TEXT,
      execute_before BIGINT NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (wallet, idempotency_key)
    )`)
    yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${prefix}_payments_by_hash ON ${prefix}_payments (transaction_hash)`)
    yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${prefix}_payments_by_session ON ${prefix}_payments (session, status)`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_sessions (
      session TEXT PRIMARY KEY,
      used INTEGER NOT NULL,
      epoch INTEGER NOT NULL,
      allowed_entrypoints TEXT
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_reservations (
      reservation TEXT PRIMARY KEY,
      session TEXT NOT NULL,
      epoch INTEGER NOT NULL
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_fences (
      session TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL,
      until BIGINT NOT NULL
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_keys (
      public_key TEXT PRIMARY KEY,
      valid_until BIGINT NOT NULL
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_budget (
      wallet TEXT NOT NULL,
      idempotency_key TEXT NOT NULL,
      nonce TEXT NOT NULL,
      token TEXT NOT NULL,
      amount NUMERIC(78, 0) NOT NULL,
      at BIGINT NOT NULL,
      released BOOLEAN NOT NULL DEFAULT FALSE
    )`)
    yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${prefix}_ledger_budget_by_token ON ${prefix}_ledger_budget (wallet, token, at)`)
    yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${prefix}_ledger_budget_by_key ON ${prefix}_ledger_budget (wallet, idempotency_key)`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_halts (
      wallet TEXT PRIMARY KEY,
      since BIGINT NOT NULL
    )`)
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_ledger_policies (
      session_public_key TEXT PRIMARY KEY,
      policy TEXT NOT NULL
    )`)
  }))

/** The tables of a ledger under `prefix`, and the client that reads them. */
const tablesOf = (sql: SqlClient.SqlClient, prefix: string) => ({
  sql,
  prefix,
  payments: sql(`${prefix}_payments`),
  sessions: sql(`${prefix}_ledger_sessions`),
  reservations: sql(`${prefix}_ledger_reservations`),
  keys: sql(`${prefix}_ledger_keys`),
  fences: sql(`${prefix}_ledger_fences`),
  budget: sql(`${prefix}_ledger_budget`),
  halts: sql(`${prefix}_ledger_halts`),
  policies: sql(`${prefix}_ledger_policies`)
})
type Tables = ReturnType<typeof tablesOf>

const fault = (operation: string) => (error: unknown) =>
  new LedgerError({ operation, message: error instanceof Error ? error.message : String(error) })
const faultOr = (operation: string) => (error: unknown) => (error instanceof PolicyViolation ? error : fault(operation)(error))

/**
 * What counts of a wallet's token in a window: entries not released whose record still has their nonce and is
 * not final without effect (`Ledger.budgetEntryLapsed`, in SQL).
 */
const spentIn = ({ budget, payments, sql }: Tables, wallet: string, token: string, windowSeconds: number, now: number, except: string | null) =>
  sql<{ readonly spent: string }>`SELECT COALESCE(SUM(b.amount), 0)::text AS spent FROM ${budget} b
    LEFT JOIN ${payments} p ON p.wallet = b.wallet AND p.idempotency_key = b.idempotency_key
    WHERE b.wallet = ${norm(wallet)} AND b.token = ${norm(token)} AND b.at > ${now - windowSeconds * 1000}
      AND NOT b.released AND b.idempotency_key IS DISTINCT FROM ${except}
      AND (p.nonce IS NULL OR (p.nonce = b.nonce AND p.status <> 'not-executed'
        AND NOT (p.status IN ('refused', 'reverted') AND (p.execute_before + 60) * 1000 < ${now})))`.pipe(
    Effect.map((rows) => BigInt(rows[0]?.spent ?? "0"))
  )

const fromRow = (row: PaymentRow) =>
  decodePayment({
    ...JSON.parse(row.body),
    status: row.status,
    ...(row.transaction_hash !== null ? { transactionHash: row.transaction_hash } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    ...(row.reservation !== null ? { reservation: row.reservation } : {})
  })
const one = (rows: ReadonlyArray<PaymentRow>) => (rows[0] === undefined ? Effect.succeed(undefined) : fromRow(rows[0]))
const selectPayment = ({ payments, sql }: Tables, wallet: string, idempotencyKey: string) =>
  sql<PaymentRow>`SELECT body, status, transaction_hash, reason, reservation FROM ${payments}
    WHERE wallet = ${norm(wallet)} AND idempotency_key = ${idempotencyKey}`

const rowOf = (payment: Payment) => {
  const { reason, reservation, status, transactionHash, ...body } = encodePayment(payment)
  return {
    wallet: norm(payment.wallet),
    idempotency_key: payment.idempotencyKey,
    nonce: norm(payment.nonce),
    session: sessionKey(payment),
    status,
    transaction_hash: transactionHash !== undefined ? norm(String(transactionHash)) : null,
    reason: reason ?? null,
    reservation: reservation ?? null,
    execute_before: payment.executeBefore,
    body: JSON.stringify(body)
  }
}

const ensureSession = ({ sessions, sql }: Tables, key: string) =>
  sql`INSERT INTO ${sessions} ${sql.insert({ session: key, used: 0, epoch: 0, allowed_entrypoints: null })}
    ON CONFLICT (session) DO NOTHING`

const insertPayment = ({ payments, sql }: Tables, payment: Payment, replacing: Felt | undefined) =>
  Effect.gen(function*() {
    const row = rowOf(payment)
    const inserted = replacing === undefined
      ? yield* sql<PaymentRow>`INSERT INTO ${payments} ${sql.insert(row)}
          ON CONFLICT (wallet, idempotency_key) DO NOTHING
          RETURNING body, status, transaction_hash, reason, reservation`
      : yield* sql<PaymentRow>`INSERT INTO ${payments} ${sql.insert(row)}
          ON CONFLICT (wallet, idempotency_key) DO UPDATE SET
            nonce = EXCLUDED.nonce, session = EXCLUDED.session, status = EXCLUDED.status,
            transaction_hash = EXCLUDED.transaction_hash, reason = EXCLUDED.reason,
            reservation = EXCLUDED.reservation, execute_before = EXCLUDED.execute_before, body = EXCLUDED.body
          WHERE ${payments}.nonce = ${norm(replacing)}
          RETURNING body, status, transaction_hash, reason, reservation`
    return inserted.length === 1
  })

/**
 * Records a payment unless its key holds one (other than the one it replaces). With budget charges, one transaction
 * under the wallet's advisory lock: the budgets' sums read, the record and its charges written.
 */
const recordPaymentIn = (t: Tables): Ledger["Type"]["recordPayment"] => (payment, opts) => {
  const { budget, prefix, sql } = t
  const charges = opts?.charges ?? []
  const existing = Effect.flatMap(selectPayment(t, payment.wallet, payment.idempotencyKey), one)
  if (charges.length === 0) {
    return Effect.gen(function*() {
      if (yield* insertPayment(t, payment, opts?.replacing)) return payment
      // A row removed between the conflict and the read cannot happen: records are never deleted here.
      return (yield* existing) ?? payment
    }).pipe(Effect.mapError(fault("recordPayment")))
  }
  return sql.withTransaction(Effect.gen(function*() {
    // The wallet's budget is one sequence: every charged record of the wallet takes this lock.
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`${prefix}_budget:${norm(payment.wallet)}`}))`
    const there = yield* existing
    if (there !== undefined && (opts?.replacing === undefined || norm(there.nonce) !== norm(opts.replacing))) return there
    for (const charge of charges) {
      for (const limit of charge.limits) {
        const spent = yield* spentIn(t, payment.wallet, charge.token, limit.windowSeconds, payment.recordedAt, payment.idempotencyKey)
        if (spent + charge.amount > limit.amount) return yield* Effect.fail(budgetRefusal(payment, charge, limit, spent))
      }
    }
    if (!(yield* insertPayment(t, payment, opts?.replacing))) return (yield* existing) ?? payment
    yield* sql`DELETE FROM ${budget} WHERE wallet = ${norm(payment.wallet)} AND idempotency_key = ${payment.idempotencyKey}`
    yield* sql`INSERT INTO ${budget} ${
      sql.insert(charges.map((charge) => ({
        wallet: norm(payment.wallet),
        idempotency_key: payment.idempotencyKey,
        nonce: norm(payment.nonce),
        token: norm(charge.token),
        amount: charge.amount.toString(),
        at: payment.recordedAt,
        released: false
      })))
    }`
    return payment
  })).pipe(Effect.mapError(faultOr("recordPayment")))
}

type PaymentsPart = "recordPayment" | "payment" | "paymentByHash" | "updatePayment" | "openPayments" | "budgetSpent" | "releaseBudget"

/** The payment records and their budget charges. */
const paymentsIn = (t: Tables): Pick<Ledger["Type"], PaymentsPart> => {
  const { budget, payments, sql } = t
  return {
    recordPayment: recordPaymentIn(t),
    payment: (wallet, idempotencyKey) =>
      Effect.flatMap(selectPayment(t, wallet, idempotencyKey), one).pipe(Effect.mapError(fault("payment"))),
    paymentByHash: (txHash) =>
      sql<PaymentRow>`SELECT body, status, transaction_hash, reason, reservation FROM ${payments}
        WHERE transaction_hash = ${norm(txHash)} LIMIT 1`.pipe(Effect.flatMap(one), Effect.mapError(fault("paymentByHash"))),
    updatePayment: (wallet, idempotencyKey, nonce, update) =>
      sql`UPDATE ${payments} SET
          status = ${update.status},
          transaction_hash = COALESCE(${update.transactionHash !== undefined ? norm(update.transactionHash) : null}, transaction_hash),
          reason = COALESCE(${update.reason ?? null}, reason),
          reservation = COALESCE(${update.reservation ?? null}, reservation)
        WHERE wallet = ${norm(wallet)} AND idempotency_key = ${idempotencyKey} AND nonce = ${norm(nonce)}`.pipe(
        Effect.zipRight(
          update.status === "not-executed"
            ? sql`UPDATE ${budget} SET released = TRUE
                WHERE wallet = ${norm(wallet)} AND idempotency_key = ${idempotencyKey} AND nonce = ${norm(nonce)}`
            : Effect.void
        ),
        Effect.asVoid,
        Effect.mapError(fault("updatePayment"))
      ),
    openPayments: (session) =>
      sql<PaymentRow>`SELECT body, status, transaction_hash, reason, reservation FROM ${payments}
        WHERE session = ${sessionKey(session)} AND status NOT IN ('executed', 'not-executed')`.pipe(
        Effect.flatMap((rows) => Effect.forEach(rows, fromRow)),
        Effect.mapError(fault("openPayments"))
      ),
    budgetSpent: (wallet, token, windowSeconds, now, except) =>
      spentIn(t, wallet, token, windowSeconds, now, except ?? null).pipe(Effect.mapError(fault("budgetSpent"))),
    releaseBudget: (wallet, idempotencyKey, nonce) =>
      (nonce === undefined
        ? sql`UPDATE ${budget} SET released = TRUE WHERE wallet = ${norm(wallet)} AND idempotency_key = ${idempotencyKey}`
        : sql`UPDATE ${budget} SET released = TRUE
            WHERE wallet = ${norm(wallet)} AND idempotency_key = ${idempotencyKey} AND nonce = ${norm(nonce)}`).pipe(
        Effect.asVoid,
        Effect.mapError(fault("releaseBudget"))
      )
  }
}

type SessionsPart = "reserve" | "release" | "resetSession" | "allowedEntrypoints" | "fence" | "fenceOf" | "clearFence" | "sessionsOf"

/** What is known of each session: its reserved calls (a row lock), its allow-list, its fence. */
const sessionsIn = (t: Tables): Pick<Ledger["Type"], SessionsPart> => {
  const { fences, payments, reservations, sessions, sql } = t
  return {
    reserve: (session, chain, idempotencyKey) =>
      sql.withTransaction(Effect.gen(function*() {
        const key = sessionKey(session)
        yield* ensureSession(t, key)
        const [row] = yield* sql<{ readonly used: number; readonly epoch: number }>`
          SELECT used, epoch FROM ${sessions} WHERE session = ${key} FOR UPDATE`
        const used = Math.max(chain.callsUsed, Number(row!.used))
        // One reservation per key: the replay of an execute that died after reserving takes the call it held.
        const held = idempotencyKey === undefined ? undefined : `${key}#${Number(row!.epoch)}#k:${idempotencyKey}`
        if (held !== undefined && chain.callsUsed < chain.maxCalls) {
          const [found] = yield* sql`SELECT 1 AS one FROM ${reservations} WHERE reservation = ${held}`
          if (found !== undefined) return { ok: true, reservation: held, used: Math.max(0, used - 1) } satisfies Reserved
        }
        if (used >= chain.maxCalls) return { ok: false, used } satisfies Reserved
        const reservation = held ?? `${key}#${Number(row!.epoch)}#${crypto.randomUUID()}`
        yield* sql`UPDATE ${sessions} SET used = ${used + 1} WHERE session = ${key}`
        yield* sql`INSERT INTO ${reservations} ${sql.insert({ reservation, session: key, epoch: Number(row!.epoch) })}`
        return { ok: true, reservation, used } satisfies Reserved
      })).pipe(Effect.mapError(fault("reserve"))),
    release: (reservation) =>
      sql.withTransaction(Effect.gen(function*() {
        const [gone] = yield* sql<{ readonly session: string; readonly epoch: number }>`
          DELETE FROM ${reservations} WHERE reservation = ${reservation} RETURNING session, epoch`
        if (gone === undefined) return
        yield* sql`UPDATE ${sessions} SET used = GREATEST(0, used - 1)
          WHERE session = ${gone.session} AND epoch = ${Number(gone.epoch)}`
      })).pipe(Effect.mapError(fault("release"))),
    resetSession: (session, allowedEntrypoints) =>
      sql.withTransaction(Effect.gen(function*() {
        const key = sessionKey(session)
        yield* ensureSession(t, key)
        yield* sql`UPDATE ${sessions} SET used = 0, epoch = epoch + 1,
          allowed_entrypoints = ${allowedEntrypoints !== undefined ? JSON.stringify(allowedEntrypoints) : null}
          WHERE session = ${key}`
        yield* sql`DELETE FROM ${reservations} WHERE session = ${key}`
      })).pipe(Effect.mapError(fault("resetSession"))),
    allowedEntrypoints: (session) =>
      sql<{ readonly allowed_entrypoints: string | null }>`
        SELECT allowed_entrypoints FROM ${sessions} WHERE session = ${sessionKey(session)}`.pipe(
        Effect.map((rows) =>
          rows[0]?.allowed_entrypoints == null ? undefined : (JSON.parse(rows[0].allowed_entrypoints) as ReadonlyArray<Felt>)
        ),
        Effect.mapError(fault("allowedEntrypoints"))
      ),
    fence: (session, fence) =>
      sql`INSERT INTO ${fences} ${sql.insert({ session: sessionKey(session), idempotency_key: fence.idempotencyKey, until: fence.until })}
        ON CONFLICT (session) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key, until = EXCLUDED.until`.pipe(
        Effect.asVoid,
        Effect.mapError(fault("fence"))
      ),
    fenceOf: (session, now) =>
      sql<{ readonly idempotency_key: string; readonly until: string | number }>`
        SELECT idempotency_key, until FROM ${fences} WHERE session = ${sessionKey(session)} AND until > ${now}`.pipe(
        Effect.map((rows) => (rows[0] === undefined ? undefined : { idempotencyKey: rows[0].idempotency_key, until: Number(rows[0].until) })),
        Effect.mapError(fault("fenceOf"))
      ),
    clearFence: (session, idempotencyKey) =>
      sql`DELETE FROM ${fences} WHERE session = ${sessionKey(session)} AND idempotency_key = ${idempotencyKey}`.pipe(
        Effect.asVoid,
        Effect.mapError(fault("clearFence"))
      ),
    sessionsOf: (wallet) =>
      sql<{ readonly session: string }>`SELECT session FROM ${sessions} WHERE session LIKE ${`${norm(wallet)}:%`}
        UNION SELECT session FROM ${payments} WHERE wallet = ${norm(wallet)}`.pipe(
        Effect.map((rows) => [...new Set(rows.map((r) => norm(r.session.slice(r.session.indexOf(":") + 1))))] as Array<Felt>),
        Effect.mapError(fault("sessionsOf"))
      )
  }
}

type KeysAndWalletsPart = "rememberKey" | "keyValidUntil" | "halt" | "resume" | "haltedSince" | "setSessionPolicy" | "sessionPolicy"

/** Remembered session keys, halted wallets and the policies attached to session keys. */
const keysAndWalletsIn = (t: Tables): Pick<Ledger["Type"], KeysAndWalletsPart> => {
  const { halts, keys, policies, sql } = t
  return {
    rememberKey: (publicKey, validUntil) =>
      sql`INSERT INTO ${keys} ${sql.insert({ public_key: norm(publicKey), valid_until: validUntil })}
        ON CONFLICT (public_key) DO UPDATE SET valid_until = EXCLUDED.valid_until`.pipe(
        Effect.asVoid,
        Effect.mapError(fault("rememberKey"))
      ),
    keyValidUntil: (publicKey) =>
      sql<{ readonly valid_until: string | number }>`SELECT valid_until FROM ${keys} WHERE public_key = ${norm(publicKey)}`.pipe(
        Effect.map((rows) => (rows[0] === undefined ? undefined : Number(rows[0].valid_until))),
        Effect.mapError(fault("keyValidUntil"))
      ),
    halt: (wallet, since) =>
      sql`INSERT INTO ${halts} ${sql.insert({ wallet: norm(wallet), since })} ON CONFLICT (wallet) DO NOTHING`.pipe(
        Effect.asVoid,
        Effect.mapError(fault("halt"))
      ),
    resume: (wallet) =>
      sql`DELETE FROM ${halts} WHERE wallet = ${norm(wallet)}`.pipe(Effect.asVoid, Effect.mapError(fault("resume"))),
    haltedSince: (wallet) =>
      sql<{ readonly since: string | number }>`SELECT since FROM ${halts} WHERE wallet = ${norm(wallet)}`.pipe(
        Effect.map((rows) => (rows[0] === undefined ? undefined : Number(rows[0].since))),
        Effect.mapError(fault("haltedSince"))
      ),
    setSessionPolicy: (sessionPublicKey, policy) =>
      (policy === undefined
        ? sql`DELETE FROM ${policies} WHERE session_public_key = ${norm(sessionPublicKey)}`
        : sql`INSERT INTO ${policies} ${sql.insert({ session_public_key: norm(sessionPublicKey), policy })}
            ON CONFLICT (session_public_key) DO UPDATE SET policy = EXCLUDED.policy`).pipe(
        Effect.asVoid,
        Effect.mapError(fault("setSessionPolicy"))
      ),
    sessionPolicy: (sessionPublicKey) =>
      sql<{ readonly policy: string }>`SELECT policy FROM ${policies} WHERE session_public_key = ${norm(sessionPublicKey)}`.pipe(
        Effect.map((rows) => rows[0]?.policy),
        Effect.mapError(fault("sessionPolicy"))
      )
  }
}

/**
 * Builds a `Ledger` on the `SqlClient` at hand (tables `<prefix>_payments`, `<prefix>_ledger_*`, created if
 * missing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSql = (options: { readonly prefix?: string } = {}) =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "ssk"
    const sql = yield* SqlClient.SqlClient
    yield* migrate(sql, prefix).pipe(Effect.mapError(fault("migrate")))
    const tables = tablesOf(sql, prefix)
    return Ledger.of({ ...paymentsIn(tables), ...sessionsIn(tables), ...keysAndWalletsIn(tables) })
  })

/**
 * The `Ledger` in the SQL database at hand, shared by every instance on it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (options: { readonly prefix?: string } = {}): Layer.Layer<Ledger, LedgerError, SqlClient.SqlClient> =>
  Layer.effect(Ledger, makeSql(options))
