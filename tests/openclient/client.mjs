// Driver for tests/test_duis_open_client.py: the open DCC Boxed client packages, unchanged,
// used through their public APIs the way SmartDCCInnovation/dccboxed-nodered-nodes does
// (src/dccboxed-send.ts, src/dccboxed-config.ts), without Node-RED around them.
//
//   node client.mjs <install dir>
//
// Serves the user's callback (POST /smartdcc/duis on 127.0.0.1, a free port), then reads one
// JSON command per stdin line and writes one JSON event per stdout line:
//
//   start                       -> {"event":"listening","callback":URL}
//   {"op":"send","base":URL,"tag":T}
//       duis-templates template T -> constructDuis -> signDuis -> POST to the endpoint of its
//       command variant -> content-type check -> validateDuis -> parseDuis
//                               -> {"event":"sync", ...} or {"event":"error", ...}
//   {"op":"smki","address":HOST:PORT,"eui":E}
//       dccboxed-keystore BoxedKeyStore.query: E's DS and KA certificates over SMKI
//                               -> {"event":"smki", ...}
//   {"op":"quit"}               -> exits 0
//
//   each callback POST          -> validateDuis -> parseDuis -> isSimplifiedDuisOutputResponse:
//                                  204, else 400 -> {"event":"callback", ...}
//
// Events carry the parsed simplified DUIS (bigints as strings) and the XML received.
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const installDir = process.argv[2]
if (!installDir) {
  console.error('usage: node client.mjs <install dir>')
  process.exit(2)
}
const require = createRequire(join(installDir, 'package.json'))
const { loadTemplates } = require('@smartdcc/duis-templates')
const parser = require('@smartdcc/duis-parser')
const { signDuis, validateDuis } = require('@smartdcc/duis-sign-wrap')
const { BoxedKeyStore, KeyUsage } = require('@smartdcc/dccboxed-keystore')

// As dccboxed-send.ts: the command variant's web service names the endpoint.
const ENDPOINTS = {
  'Non-Device Service': '/api/v1/serviceD',
  'Send Command Service': '/api/v1/serviceS',
  'Transform Service': '/api/v1/serviceT',
}
const CALLBACK_PATH = '/smartdcc/duis' // the client's default responseEndpoint
const SEND_TIMEOUT_MS = 3000 // dccboxed-send.ts: got timeout.request

const emit = (event) =>
  process.stdout.write(
    JSON.stringify(event, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n',
  )
const message = (e) => String(e && e.message ? e.message : e)

function mediaType(header) {
  return (header ?? '').split(';')[0].trim().toLowerCase()
}

// What the client does with a DUIS document it receives: the signing tool checks schema and
// signature, then it is parsed; only a response passes.
async function receive(xml) {
  const validated = await validateDuis({ xml })
  const duis = parser.parseDuis('simplified', validated)
  if (!parser.isSimplifiedDuisOutputResponse(duis)) {
    throw new Error('expected duis response')
  }
  return {
    duis,
    is: {
      gbcsPayload: parser.isSimplifiedDuisResponseBody_ResponseMessage_X('GBCSPayload', duis.body),
      noBody: parser.isSimplifiedDuisResponseBody_ResponseMessage_X('NoBody', duis.body),
      deviceAlert: parser.isSimplifiedDuisResponseBody_DeviceAlertMessage(duis.body),
      dccAlert: parser.isSimplifiedDuisResponseBody_DCCAlertMessage(duis.body),
    },
  }
}

async function send({ base, tag }) {
  const templates = await loadTemplates({})
  const template = templates[tag]
  if (!template) throw new Error(`no template ${tag} in @smartdcc/duis-templates`)
  const req = template.simplified
  const cv = parser.isCommandVariant(req.header.commandVariant)
    ? req.header.commandVariant
    : parser.lookupCV(req.header.commandVariant)
  if (cv.number === 3 || cv.number === 7) {
    throw new Error(`tried to send a cv not supported by DCC Boxed: ${cv.number}`)
  }
  const endpoint = ENDPOINTS[cv.webService]
  const preSigned = parser.constructDuis('simplified', req)
  // dccboxed-send.ts signs the first request with preserveCounter false: the tool writes
  // the current time in ms as the RequestID counter.
  const signed = await signDuis({ xml: preSigned, preserveCounter: false })
  const response = await fetch(`${base}${endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/xml' },
    body: signed,
    redirect: 'follow',
    signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
  })
  const body = await response.text()
  const contentType = response.headers.get('content-type')
  const exchange = {
    template: template.fileName,
    endpoint,
    status: response.status,
    contentType,
    sent: signed,
    xml: body,
  }
  if (!response.ok) {
    throw Object.assign(new Error(`HTTP ${response.status}`), { details: exchange })
  }
  if (mediaType(contentType) !== 'application/xml') {
    throw Object.assign(
      new Error(`incorrect content-type header received: ${contentType}`),
      { details: exchange },
    )
  }
  return { ...exchange, ...(await receive(body)) }
}

async function smki({ address, eui }) {
  const local = mkdtempSync(join(tmpdir(), 'open-client-keystore-'))
  // An empty cache and an empty backing store: every look-up goes to the SMKI service.
  const empty = join(local, 'empty.json')
  const ks = await BoxedKeyStore.new(address, join(local, 'cache.json'), empty)
  try {
    const found = {}
    for (const [name, usage] of [
      ['DS', KeyUsage.digitalSignature],
      ['KA', KeyUsage.keyAgreement],
    ]) {
      const r = await ks.query({ eui, keyUsage: usage, lookup: 'certificate' })
      found[name] = (r ?? []).map((c) => ({
        serial: c.serial,
        eui: c.eui.toString(),
        keyUsage: c.keyUsage,
        pem: c.certificate.toString(),
      }))
    }
    return found
  } finally {
    await ks.cleanup()
    rmSync(local, { recursive: true, force: true })
  }
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== CALLBACK_PATH) {
    res.writeHead(404).end()
    return
  }
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const xml = Buffer.concat(chunks).toString('utf-8')
    const contentType = req.headers['content-type']
    const reply = (status, extra) => {
      res.writeHead(status).end()
      emit({ event: 'callback', status, contentType, xml, ...extra })
    }
    if (mediaType(contentType) !== 'application/xml') {
      reply(400, { error: `content-type ${contentType}` })
      return
    }
    receive(xml).then(
      (parsed) => reply(204, parsed),
      (e) => reply(400, { error: message(e) }),
    )
  })
})

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  emit({ event: 'listening', callback: `http://127.0.0.1:${port}${CALLBACK_PATH}` })
})

const ops = { send, smki }
const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (e) {
    emit({ event: 'error', op: null, error: `bad command: ${message(e)}` })
    return
  }
  if (cmd.op === 'quit') {
    server.close()
    process.exit(0)
  }
  const op = ops[cmd.op]
  if (!op) {
    emit({ event: 'error', op: cmd.op, error: 'unknown op' })
    return
  }
  op(cmd).then(
    (result) => emit({ event: cmd.op === 'send' ? 'sync' : cmd.op, ...result }),
    (e) => emit({ event: 'error', op: cmd.op, error: message(e), details: e?.details }),
  )
})
lines.on('close', () => {
  server.close()
  process.exit(0)
})
