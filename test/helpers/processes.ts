/** Real worker processes for the crash tests: the example run with `node --import tsx`, killed with SIGKILL. */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, extname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface Worker {
  readonly child: ChildProcess
  readonly lines: Array<string>
  /** Resolves with the first line (seen so far or later) matching `pattern`. */
  readonly line: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly exited: Promise<number | null>
  readonly kill9: () => Promise<void>
  readonly stderr: () => string
}

/**
 * Starts `script` as a worker: a `.ts` file runs under tsx (as `npx tsx` runs it), a `.mjs` file (a bundle from
 * `bundleWorker`) on plain node, with the flags in WORKER_NODE_ARGS if set (e.g. `--cpu-prof --cpu-prof-dir=…`).
 */
export const startWorker = (script: string, env: Record<string, string | undefined>): Worker => {
  const args = script.endsWith(".mjs") ? [...(process.env["WORKER_NODE_ARGS"]?.split(" ") ?? []), script] : ["--import", "tsx", "--conditions=starknet-session-keys-source", script]
  // A variable set to undefined is left out of the worker's environment (e.g. DATABASE_URL for a PGlite worker).
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key]
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  let err = ""
  const waiters: Array<{ readonly pattern: RegExp; readonly resolve: (line: string) => void }> = []
  let buffer = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString()
    let i: number
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      lines.push(line)
      if (process.env["WORKER_LOG"] !== undefined) appendFileSync(process.env["WORKER_LOG"], `[${child.pid}] ${line}\n`)
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    line: (pattern, timeoutMs = 90_000) =>
      new Promise<string>((resolve, reject) => {
        const seen = lines.find((l) => pattern.test(l))
        if (seen !== undefined) return resolve(seen)
        const timer = setTimeout(() => reject(new Error(`no line ${pattern} within ${timeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${err}`)), timeoutMs)
        void exited.then((code) => {
          clearTimeout(timer)
          reject(new Error(`exited (${code}) before a line ${pattern}; stdout:\n${lines.join("\n")}\nstderr:\n${err}`))
        })
        waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) })
      }),
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    }
  }
}

/**
 * Bundles a worker script and the project's sources it imports into one ES module (dependencies stay imports of
 * node_modules), with esbuild, the transformer tsx itself runs. Under tsx every module of the dependencies goes
 * through its loader hooks, which doubles a worker's start-up (measured: 4.1 s against 1.9 s for effect and the
 * cluster packages on a busy 2-core machine); the bundle starts on plain node. Written under
 * node_modules/.cache, so that its imports resolve to this checkout's node_modules.
 */
export const bundleWorker = async (script: string): Promise<string> => {
  const { build } = await import("esbuild")
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    readonly exports: Record<string, { readonly "starknet-session-keys-source"?: string } | string>
  }
  const dir = join(root, "node_modules", ".cache", "starknet-session-keys-workers")
  mkdirSync(dir, { recursive: true })
  const outfile = join(dir, `${basename(script, extname(script))}-${process.pid}-${Date.now()}.mjs`)
  await build({
    entryPoints: [join(root, script)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    plugins: [{
      name: "the package's own entries, from source",
      setup: (b) => {
        b.onResolve({ filter: /^starknet-session-keys(\/.*)?$/ }, (args) => {
          const entry = pkg.exports[args.path === "starknet-session-keys" ? "." : "." + args.path.slice("starknet-session-keys".length)]
          const source = typeof entry === "object" ? entry["starknet-session-keys-source"] : undefined
          return source === undefined ? { errors: [{ text: `no source entry for ${args.path}` }] } : { path: join(root, source) }
        })
      }
    }]
  })
  return outfile
}

/**
 * A PGlite data directory made once per PGlite version and kept in the system's temporary directory (creating one
 * runs initdb: 4 to 11 s on a busy 2-core machine, against 1.6 s to open an existing one). `freshDataDir` copies
 * it; a test that wants initdb itself opens an empty directory instead.
 */
export const pgliteTemplate = async (): Promise<string> => {
  const { version } = JSON.parse(readFileSync(join(root, "node_modules", "@electric-sql", "pglite", "package.json"), "utf8")) as { readonly version: string }
  const template = join(tmpdir(), `ssk-pglite-template-${version}`)
  if (existsSync(join(template, "PG_VERSION"))) return template
  const { PGlite } = await import("@electric-sql/pglite")
  const building = mkdtempSync(join(tmpdir(), "ssk-pglite-init-"))
  const db = await PGlite.create(building)
  await db.close()
  try {
    renameSync(building, template)
  } catch {
    // Made by another run meanwhile.
    rmSync(building, { recursive: true, force: true })
  }
  return template
}

/** A new data directory, a copy of the template. */
export const freshDataDir = async (): Promise<string> => {
  const template = await pgliteTemplate()
  const dir = mkdtempSync(join(tmpdir(), "ssk-data-"))
  cpSync(template, dir, { recursive: true })
  return dir
}
