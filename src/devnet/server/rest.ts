/**
 * Chipi's REST routes (`/v1/…`) as the published SDK calls them, answered by the served devnet.
 */
import { HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { Devnet } from "../types.js"
import { OutsideExecutionTypedData } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import { Call, decode, type Felt, type TxHash } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { Transient } from "./jsonrpc.js"

export const restRoutes = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const paymaster = yield* Paymaster
  const devnet = yield* Devnet
  const fail = (status: number, message: string, code: string) => HttpServerResponse.unsafeJson({ message, code }, { status })
  const pmFail = (e: { readonly message: string; readonly code: number; readonly transient: boolean }) =>
    e.transient ? Effect.fail(new Transient(e.code)) : Effect.succeed(fail(400, e.message, String(e.code)))
  return (method: string, path: string, headers: Readonly<Record<string, string | undefined>>, body: unknown) =>
    Effect.gen(function*() {
      // As Chipi does: a public key in `x-api-key` and a bearer token on every request, whatever their values.
      if (!/^pk_(dev|prod)_/.test(headers["x-api-key"] ?? "")) return fail(401, "missing or malformed x-api-key (pk_dev_… or pk_prod_…)", "UNAUTHORIZED")
      if (!/^Bearer \S+$/.test(headers["authorization"] ?? "")) return fail(401, "missing Authorization: Bearer token", "UNAUTHORIZED")
      const b = (body ?? {}) as Record<string, unknown>
      if (method === "POST" && path === "/v1/transactions/prepare-typed-data") {
        const calls = yield* decode(Schema.Array(Call))(b["calls"]).pipe(Effect.either)
        if (calls._tag === "Left") return fail(400, calls.left.message, "INVALID_INPUT")
        const now = yield* devnet.blockTimestamp
        return yield* paymaster.buildTransaction({
          userAddress: String(b["publicKey"]) as never,
          calls: calls.right,
          timeBounds: { executeAfter: now - 1, executeBefore: now + 300 }
        }).pipe(
          Effect.map((built) => HttpServerResponse.unsafeJson({ typedData: built.typedData, walletType: "CHIPI" })),
          Effect.catchAll(pmFail)
        )
      }
      if (method === "POST" && path === "/v1/transactions/execute-sponsored-transaction") {
        const typedData = yield* Schema.decodeUnknown(OutsideExecutionTypedData)(b["typedData"]).pipe(Effect.either)
        if (typedData._tag === "Left") return fail(400, "typedData is not an outside execution", "INVALID_INPUT")
        // A session signature is 4 hex felts flagged `isSessionSignature`; an owner signature is { r, s } in decimal.
        const sig = b["userSignature"] as unknown
        const signature: ReadonlyArray<string> | undefined = Array.isArray(sig)
          ? b["isSessionSignature"] === true && sig.length === 4 && sig.every((v) => typeof v === "string" && /^0x[0-9a-fA-F]+$/.test(v)) ? sig : undefined
          : typeof sig === "object" && sig !== null && typeof (sig as { r?: unknown }).r === "string" && typeof (sig as { s?: unknown }).s === "string" &&
              /^\d+$/.test((sig as { r: string }).r) && /^\d+$/.test((sig as { s: string }).s)
          ? [(sig as { r: string }).r, (sig as { s: string }).s]
          : undefined
        if (signature === undefined) {
          return fail(400, "userSignature must be { r, s } in decimal, or 4 hex felts with isSessionSignature: true", "INVALID_SIGNATURE")
        }
        return yield* paymaster.executeTransaction({
          userAddress: String(b["publicKey"]) as never,
          typedData: typedData.right,
          signature: signature.map((v) => ("0x" + BigInt(v).toString(16)) as Felt)
        }).pipe(
          Effect.map((r) => HttpServerResponse.unsafeJson({ transactionHash: r.transactionHash })),
          Effect.catchAll(pmFail)
        )
      }
      const status = /^\/v1\/transactions\/([^/]+)\/status$/.exec(path)
      if (method === "GET" && status !== null) {
        return yield* rpc.getTransactionStatus(decodeURIComponent(status[1]!) as TxHash).pipe(
          Effect.map((s) => HttpServerResponse.unsafeJson(s)),
          Effect.catchAll((e) =>
            e._tag === "TransactionNotFound"
              ? Effect.succeed(fail(404, e.message, "NOT_FOUND"))
              : e.transient
              ? Effect.fail(new Transient(e.code))
              : Effect.succeed(fail(400, e.message, String(e.code)))
          )
        )
      }
      return fail(404, `no route ${method} ${path}`, "NOT_FOUND")
    })
})

