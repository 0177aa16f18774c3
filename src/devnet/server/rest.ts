/**
 * Chipi's REST routes (`/v1/…`) as the published SDK (14.4) calls them, answered by the served devnet. Bodies
 * are decoded with Schemas; every refusal is a JSON `{ message, code }` with a 4xx status.
 */
import { Effect, Schema } from "effect"
import { OutsideExecutionTypedData } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import { Address, Call, Felt, TxHash } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { internalsOf } from "../registry.js"
import { Devnet } from "../types.js"
import { Transient } from "./jsonrpc.js"
import { describeIssue } from "./refusal.js"

/** The SDK's CHIPI account class hash, which `prepare-typed-data` carries (spec, Corrections 10). */
export const CHIPI_ACCOUNT_CLASS_HASH = "0x053f4f8791ed5bed0fddaa553d180c664e32cfaf8316bb232ae77bb08f459f2a"

export interface RestAnswer {
  readonly status: number
  readonly body: unknown
}

const fail = (status: number, message: string, code: string): RestAnswer => ({ status, body: { message, code } })

const PrepareBody = Schema.Struct({
  publicKey: Address,
  calls: Schema.Array(Call),
  accountClassHash: Schema.String,
  walletType: Schema.optional(Schema.String)
})
const HexFelt = Schema.String.pipe(Schema.pattern(/^0x[0-9a-fA-F]{1,64}$/))
const DecimalFelt = Schema.String.pipe(Schema.pattern(/^\d{1,78}$/))
const ExecuteBody = Schema.Struct({
  publicKey: Address,
  typedData: OutsideExecutionTypedData,
  // A session signature is 4 hex felts flagged `isSessionSignature`; an owner signature is { r, s } in decimal.
  userSignature: Schema.Union(Schema.Tuple(HexFelt, HexFelt, HexFelt, HexFelt), Schema.Struct({ r: DecimalFelt, s: DecimalFelt })),
  isSessionSignature: Schema.optional(Schema.Boolean),
  walletType: Schema.optional(Schema.String)
})

const decodeBody = <A, I>(schema: Schema.Schema<A, I>, body: unknown) =>
  Schema.decodeUnknown(schema, { errors: "first" })(body).pipe(
    Effect.mapError((e) => describeIssue(e.issue)),
    Effect.either
  )

/** The REST routes; answers `undefined` for a path that is not one of them. */
export const restRoutes = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const paymaster = yield* Paymaster
  const devnet = yield* Devnet
  const avnuWindows = internalsOf(devnet)?.node.settings.timeBounds === "avnu"
  const pmFail = (e: { readonly message: string; readonly code: number; readonly transient: boolean }) =>
    e.transient ? Effect.fail(new Transient(e.code)) : Effect.succeed(fail(400, e.message, String(e.code)))
  return (method: string, path: string, headers: Readonly<Record<string, string | undefined>>, body: unknown): Effect.Effect<RestAnswer, Transient> =>
    Effect.gen(function*() {
      // As Chipi does: a public key in `x-api-key` and a bearer token on every request.
      if (!/^pk_(dev|prod)_/.test(headers["x-api-key"] ?? "")) return fail(401, "missing or malformed x-api-key (pk_dev_… or pk_prod_…)", "UNAUTHORIZED")
      if (!/^Bearer \S+$/.test(headers["authorization"] ?? "")) return fail(401, "missing Authorization: Bearer token", "UNAUTHORIZED")
      if (path === "/v1/transactions/prepare-typed-data") {
        if (method !== "POST") return fail(405, `${method} ${path}: use POST`, "METHOD_NOT_ALLOWED")
        const decoded = yield* decodeBody(PrepareBody, body)
        if (decoded._tag === "Left") return fail(400, decoded.left, "INVALID_INPUT")
        const b = decoded.right
        if (b.accountClassHash.toLowerCase() !== CHIPI_ACCOUNT_CLASS_HASH) {
          return fail(400, `accountClassHash must be the CHIPI class hash ${CHIPI_ACCOUNT_CLASS_HASH}`, "INVALID_INPUT")
        }
        // SDK 14.4 sends walletType only on the session path; without it, the class hash names the wallet (CHIPI).
        if (b.walletType !== undefined && b.walletType !== "CHIPI") return fail(400, `walletType must be "CHIPI"`, "INVALID_INPUT")
        // With AVNU's windows (the network profile) the paymaster's default applies: 1 .. the server's clock + 3600 s.
        const now = yield* devnet.blockTimestamp
        return yield* paymaster.buildTransaction({
          userAddress: b.publicKey,
          calls: b.calls,
          ...(avnuWindows ? {} : { timeBounds: { executeAfter: now - 1, executeBefore: now + 300 } })
        }).pipe(
          Effect.map((built): RestAnswer => ({ status: 200, body: { typedData: built.typedData, walletType: "CHIPI" } })),
          Effect.catchAll(pmFail)
        )
      }
      if (path === "/v1/transactions/execute-sponsored-transaction") {
        if (method !== "POST") return fail(405, `${method} ${path}: use POST`, "METHOD_NOT_ALLOWED")
        const decoded = yield* decodeBody(ExecuteBody, body)
        if (decoded._tag === "Left") {
          const signature = typeof body === "object" && body !== null && "userSignature" in body
          return signature && /userSignature/.test(decoded.left)
            ? fail(400, "userSignature must be { r, s } in decimal, or 4 hex felts with isSessionSignature: true", "INVALID_SIGNATURE")
            : fail(400, decoded.left, "INVALID_INPUT")
        }
        const b = decoded.right
        const sig = b.userSignature
        if (Array.isArray(sig) !== (b.isSessionSignature === true)) {
          return fail(400, "userSignature must be { r, s } in decimal, or 4 hex felts with isSessionSignature: true", "INVALID_SIGNATURE")
        }
        const felts = Array.isArray(sig) ? sig : [(sig as { r: string }).r, (sig as { s: string }).s]
        const signature = yield* Schema.decodeUnknown(Schema.Array(Felt))(felts).pipe(Effect.either)
        if (signature._tag === "Left") return fail(400, "userSignature: a value is not a felt", "INVALID_SIGNATURE")
        return yield* paymaster.executeTransaction({ userAddress: b.publicKey, typedData: b.typedData, signature: signature.right }).pipe(
          Effect.map((r): RestAnswer => ({ status: 200, body: { transactionHash: r.transactionHash } })),
          Effect.catchAll(pmFail)
        )
      }
      const status = /^\/v1\/transactions\/([^/]+)\/status$/.exec(path)
      if (status !== null) {
        if (method !== "GET") return fail(405, `${method} ${path}: use GET`, "METHOD_NOT_ALLOWED")
        let raw: string
        try {
          raw = decodeURIComponent(status[1]!)
        } catch {
          return fail(404, "transaction not found", "NOT_FOUND")
        }
        const hash = Schema.decodeUnknownEither(TxHash)(raw)
        if (hash._tag === "Left") return fail(404, `transaction ${JSON.stringify(raw.slice(0, 80))} not found`, "NOT_FOUND")
        // The service that sent a transaction knows it before the node does (`submissionHidden`): RECEIVED.
        const sentHere = () => {
          const tx = internalsOf(devnet)?.node.chain.txs.get(BigInt(hash.right))
          return tx !== undefined && tx.rejected === undefined
        }
        return yield* rpc.getTransactionStatus(hash.right).pipe(
          Effect.map((s): RestAnswer => ({ status: 200, body: s })),
          Effect.catchAll((e) =>
            e._tag === "TransactionNotFound" && sentHere()
              ? Effect.succeed<RestAnswer>({ status: 200, body: { finalityStatus: "RECEIVED" } })
              : e._tag === "TransactionNotFound"
              ? Effect.succeed(fail(404, e.message, "NOT_FOUND"))
              : e.transient
              ? Effect.fail(new Transient(e.code))
              : Effect.succeed(fail(400, e.message, String(e.code)))
          )
        )
      }
      return fail(404, `no route ${method} ${path.slice(0, 200)}`, "NOT_FOUND")
    })
})
