// The floor the soak compares the served devnet with: Node's http alone, reading each body (1 MiB limit, 413 from
// Content-Length), parsing it and answering a constant JSON-RPC result, or one -32600 for a batch. No devnet.
import * as http from "node:http"

const limit = 1024 * 1024
const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (Number(req.headers["content-length"] ?? "0") > limit) {
    res.writeHead(413, { connection: "close" }).end()
    res.on("finish", () => req.destroy())
    return
  }
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      body = null
    }
    const text = JSON.stringify(
      Array.isArray(body)
        ? { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } }
        : { jsonrpc: "2.0", id: body?.id ?? null, result: 1 }
    )
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) }).end(text)
  })
})
server.listen(0, "127.0.0.1", () => process.stdout.write(`floor listening on http://127.0.0.1:${server.address().port}\n`))
process.once("SIGTERM", () => process.exit(0))
