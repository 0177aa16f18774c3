/**
 * A signed webhook receiver: a notification that a transaction reached a status resumes the automation waiting on
 * it at once. Polling stays the fallback, so a lost notification only delays.
 *
 * The sender signs the raw body with HMAC-SHA256 under a shared secret and sends `x-signature: sha256=<hex>`. The
 * body is JSON `{ "id": string, "transactionHash": "0x…", "timestamp": <unix seconds> }`. Refused: a missing or
 * wrong signature (401), a body that is not such JSON (400), a timestamp outside the tolerance or an id seen before
 * (409, a replay).
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Duration, Effect, Redacted, Schema } from "effect"

export const Notification = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  transactionHash: Schema.String.pipe(Schema.pattern(/^0x[0-9a-fA-F]{1,64}$/)),
  timestamp: Schema.Number.pipe(Schema.int())
})
export type Notification = typeof Notification.Type

export interface WebhookOptions {
  readonly secret: Redacted.Redacted<string>
  /** The route (default `/webhooks/transactions`). */
  readonly path?: `/${string}`
  /** How far a notification's timestamp may be from now (default 5 minutes); ids are remembered that long. */
  readonly tolerance?: Duration.DurationInput
}

/** Signs a body as a sender does: `sha256=<hex HMAC-SHA256 of the raw body>`. */
export const sign = (secret: Redacted.Redacted<string>, body: string | Uint8Array): string =>
  "sha256=" + createHmac("sha256", Redacted.value(secret)).update(body).digest("hex")

/** Constant-time comparison of the signature sent with the one computed (lengths first: they are public). */
export const verify = (secret: Redacted.Redacted<string>, body: Uint8Array, header: string | undefined): boolean => {
  if (header === undefined) return false
  const expected = Buffer.from(sign(secret, body))
  const given = Buffer.from(header.trim())
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const refuse = (status: number, error: string) => HttpServerResponse.unsafeJson({ error }, { status })

/** The router; `notify` ends the wait of an automation on a transaction, answering whether one was waiting. */
export const router = <E, R>(options: WebhookOptions, notify: (txHash: string) => Effect.Effect<boolean, E, R>) => {
  const toleranceMillis = Duration.toMillis(Duration.decode(options.tolerance ?? "5 minutes"))
  // id -> when it was seen (ms); kept for the tolerance, beyond which the timestamp check refuses a replay anyway.
  const seen = new Map<string, number>()
  const handler = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const raw = new Uint8Array(yield* request.arrayBuffer)
    if (!verify(options.secret, raw, request.headers["x-signature"])) return refuse(401, "missing or invalid signature")
    const decoded = yield* Schema.decodeUnknown(Schema.parseJson(Notification))(new TextDecoder().decode(raw)).pipe(Effect.either)
    if (decoded._tag === "Left") return refuse(400, "the body is not a transaction notification")
    const notification = decoded.right
    const now = yield* Clock.currentTimeMillis
    for (const [id, at] of seen) if (now - at > toleranceMillis) seen.delete(id)
    if (Math.abs(now - notification.timestamp * 1000) > toleranceMillis) return refuse(409, "stale notification (timestamp)")
    if (seen.has(notification.id)) return refuse(409, "notification already received (replay)")
    seen.set(notification.id, now)
    const resumed = yield* notify(notification.transactionHash)
    return HttpServerResponse.unsafeJson({ resumed }, { status: 202 })
  }).pipe(Effect.catchAll(() => Effect.succeed(refuse(400, "unreadable request"))))
  return HttpRouter.empty.pipe(HttpRouter.post(options.path ?? "/webhooks/transactions", handler))
}
