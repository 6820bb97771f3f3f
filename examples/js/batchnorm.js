#!/usr/bin/env node
// Batch norm in JavaScript (Node.js, no dependencies), speaking bnspec's process protocol:
//
//     bnspec check --exec "node examples/js/batchnorm.js"
//
// One JSON object per line on stdin (a request) and stdout (its reply); see docs/other-languages.md.
// The lecture's layout and conventions: z is n x m (units x examples, row-major), gamma, beta and the
// running statistics are n x 1; float64 arithmetic; the corrected two-pass mean and biased variance;
// eps inside the square root; momentum weighs the old running value.
//
// A deliberately broken variant for bnspec to catch:  node examples/js/batchnorm.js --fault NAME
//   eps-outside-sqrt   (z - mu) / (sqrt(sigma^2) + eps)
//   unbiased-variance  sigma^2 divided by m - 1 instead of m
"use strict";

const readline = require("node:readline");

const FAULTS = ["eps-outside-sqrt", "unbiased-variance"];
const faultIndex = process.argv.indexOf("--fault");
const FAULT = faultIndex >= 0 ? process.argv[faultIndex + 1] : null;
if (FAULT !== null && !FAULTS.includes(FAULT)) {
  process.stderr.write(`--fault: expected one of ${FAULTS.join(", ")}, got ${FAULT}\n`);
  process.exit(2);
}

class ValueError extends Error {}

// ---------------------------------------------------------------- exact floats: hex strings

function fromHex(what, s) {
  if (typeof s === "number") return s;
  if (typeof s !== "string") throw new ValueError(`${what}: expected a hex-float string`);
  const t = s.toLowerCase();
  if (t === "inf" || t === "+inf") return Infinity;
  if (t === "-inf") return -Infinity;
  if (t === "nan") return NaN;
  const parts = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?p([+-]?\d+)$/.exec(t);
  if (parts === null) throw new ValueError(`${what}: ${s} is not a hex float`);
  const fraction = parts[3] || "";
  const mantissa = BigInt("0x" + ((parts[2] || "") + fraction || "0"));
  if (mantissa >= 2n ** 53n) throw new ValueError(`${what}: ${s} has more than 53 significant bits`);
  const exponent = parseInt(parts[4], 10) - 4 * fraction.length;
  // mantissa < 2^53 and a power of two are exact; their product is exact for every value bnspec sends.
  const value = Number(mantissa) * 2 ** exponent;
  return parts[1] === "-" ? -value : value;
}

const bitsView = new DataView(new ArrayBuffer(8));

function toHex(x) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  bitsView.setFloat64(0, x);
  const bits = bitsView.getBigUint64(0);
  const sign = bits >> 63n ? "-" : "";
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = (bits & 0xfffffffffffffn).toString(16).padStart(13, "0");
  if (biased === 0) return fraction === "0000000000000" ? `${sign}0x0.0p+0` : `${sign}0x0.${fraction}p-1022`;
  const exponent = biased - 1023;
  return `${sign}0x1.${fraction}p${exponent >= 0 ? "+" : ""}${exponent}`;
}

// ---------------------------------------------------------------- arrays

const DTYPES = { float64: (x) => x, float32: Math.fround };

function decodeArray(name, value) {
  if (value === null || typeof value !== "object" || !Array.isArray(value.shape) || !Array.isArray(value.data)) {
    throw new TypeError(`${name}: expected an array object {dtype, shape, data}`);
  }
  if (!(value.dtype in DTYPES)) throw new TypeError(`${name}: unsupported dtype ${value.dtype}`);
  const data = Float64Array.from(value.data, (x, i) => fromHex(`${name}[${i}]`, x));
  if (value.shape.length !== 2) throw new ValueError(`${name}: expected a 2-D array, got shape [${value.shape}]`);
  const [rows, cols] = value.shape;
  if (rows * cols !== data.length || rows < 1 || cols < 1) {
    throw new ValueError(`${name}: shape [${value.shape}] does not fit ${data.length} values`);
  }
  if (!data.every(Number.isFinite)) throw new ValueError(`${name}: contains NaN or infinite values`);
  return { dtype: value.dtype, rows, cols, data };
}

function encodeArray(dtype, rows, cols, data) {
  const round = DTYPES[dtype];
  return { dtype, shape: [rows, cols], data: Array.from(data, (x) => toHex(round(x))) };
}

function column(name, value, n) {
  const a = decodeArray(name, value);
  if (a.rows !== n || a.cols !== 1) throw new ValueError(`${name}: expected shape [${n}, 1], got [${a.rows}, ${a.cols}]`);
  return a.data;
}

function positive(name, value) {
  const x = fromHex(name, value);
  if (!(Number.isFinite(x) && x > 0)) throw new ValueError(`${name}: expected a number > 0, got ${x}`);
  return x;
}

function fraction(name, value) {
  const x = fromHex(name, value);
  if (!(x >= 0 && x <= 1)) throw new ValueError(`${name}: expected a number in [0, 1], got ${x}`);
  return x;
}

// ---------------------------------------------------------------- batch norm, unit by unit

function sum(values) {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

// Mean and biased variance of one unit's m examples (corrected two-pass: the mean of the
// deviations from the first mean removes that mean's rounding error).
function statistics(row) {
  const m = row.length;
  const mu0 = sum(row) / m;
  const d = row.map((x) => x - mu0);
  const correction = sum(d) / m;
  const divisor = FAULT === "unbiased-variance" ? m - 1 : m;
  const squares = sum(d.map((x) => x * x)) / divisor - (correction * correction * m) / divisor;
  return { mu: mu0 + correction, variance: Math.max(squares, 0) };
}

function invStd(variance, eps) {
  return FAULT === "eps-outside-sqrt" ? 1 / (Math.sqrt(variance) + eps) : 1 / Math.sqrt(variance + eps);
}

function rowsOf(a) {
  const rows = [];
  for (let i = 0; i < a.rows; i++) rows.push(a.data.subarray(i * a.cols, (i + 1) * a.cols));
  return rows;
}

function normalized(row, eps) {
  const { mu, variance } = statistics(row);
  const inv = invStd(variance, eps);
  return { zNorm: row.map((x) => (x - mu) * inv), inv };
}

function layerArgs(args) {
  const z = decodeArray("z", args.z);
  return { z, gamma: column("gamma", args.gamma, z.rows), beta: column("beta", args.beta, z.rows),
           eps: positive("eps", args.eps) };
}

function forward(args) {
  const { z, gamma, beta, eps } = layerArgs(args);
  const out = new Float64Array(z.data.length);
  rowsOf(z).forEach((row, i) => {
    normalized(row, eps).zNorm.forEach((x, j) => { out[i * z.cols + j] = gamma[i] * x + beta[i]; });
  });
  return [encodeArray(z.dtype, z.rows, z.cols, out)];
}

function backward(args) {
  const { z, gamma, eps } = layerArgs(args);
  const grad = decodeArray("grad", args.grad);
  if (grad.rows !== z.rows || grad.cols !== z.cols) throw new ValueError("grad: expected the shape of z");
  const m = z.cols;
  const dz = new Float64Array(z.data.length);
  const dgamma = new Float64Array(z.rows);
  const dbeta = new Float64Array(z.rows);
  rowsOf(z).forEach((row, i) => {
    const { zNorm, inv } = normalized(row, eps);
    const g = grad.data.subarray(i * m, (i + 1) * m);
    dbeta[i] = sum(g);
    dgamma[i] = sum(g.map((x, j) => x * zNorm[j]));
    const dzNorm = g.map((x) => gamma[i] * x);
    const meanD = sum(dzNorm) / m;
    const meanDx = sum(dzNorm.map((x, j) => x * zNorm[j])) / m;
    dzNorm.forEach((x, j) => { dz[i * m + j] = inv * (x - meanD - zNorm[j] * meanDx); });
  });
  return [encodeArray(z.dtype, z.rows, m, dz), encodeArray(z.dtype, z.rows, 1, dgamma),
          encodeArray(z.dtype, z.rows, 1, dbeta)];
}

function updateRunning(args) {
  const z = decodeArray("z", args.z);
  const meanArray = decodeArray("running_mean", args.running_mean);
  const mean = column("running_mean", args.running_mean, z.rows);
  const variance = column("running_var", args.running_var, z.rows);
  if (variance.some((v) => v < 0)) throw new ValueError("running_var: a variance cannot be negative");
  const momentum = fraction("momentum", args.momentum);
  const newMean = new Float64Array(z.rows);
  const newVar = new Float64Array(z.rows);
  rowsOf(z).forEach((row, i) => {
    const stats = statistics(row);
    newMean[i] = momentum * mean[i] + (1 - momentum) * stats.mu;
    newVar[i] = momentum * variance[i] + (1 - momentum) * stats.variance;
  });
  return [encodeArray(meanArray.dtype, z.rows, 1, newMean), encodeArray(meanArray.dtype, z.rows, 1, newVar)];
}

function forwardEval(args) {
  const { z, gamma, beta, eps } = layerArgs(args);
  const mean = column("running_mean", args.running_mean, z.rows);
  const variance = column("running_var", args.running_var, z.rows);
  if (variance.some((v) => v < 0)) throw new ValueError("running_var: a variance cannot be negative");
  const out = new Float64Array(z.data.length);
  rowsOf(z).forEach((row, i) => {
    const scale = gamma[i] / Math.sqrt(variance[i] + eps);
    const shift = beta[i] - scale * mean[i];
    row.forEach((x, j) => { out[i * z.cols + j] = scale * x + shift; });
  });
  return [encodeArray(z.dtype, z.rows, z.cols, out)];
}

// ---------------------------------------------------------------- the protocol

const FUNCTIONS = { forward, backward, update_running: updateRunning, forward_eval: forwardEval };

function handshake(args) {
  if (args.protocol !== "bnspec-exec" || args.version !== 1) {
    throw new ValueError(`this program speaks bnspec-exec version 1, not ${args.protocol} ${args.version}`);
  }
  return { protocol: "bnspec-exec", version: 1, functions: Object.keys(FUNCTIONS), profile: "lecture",
           layout: "units_first", name: `examples/js/batchnorm.js${FAULT ? ` --fault ${FAULT}` : ""}` };
}

function answer(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    return { id: null, ok: false, error: { type: "ProtocolError", message: `not JSON: ${error.message}` } };
  }
  try {
    const call = request.call === "handshake" ? handshake : FUNCTIONS[request.call];
    if (call === undefined) throw new ValueError(`call: unknown function ${request.call}`);
    return { id: request.id, ok: true, result: call(request.args || {}) };
  } catch (error) {
    const type = error instanceof ValueError ? "ValueError" : error instanceof TypeError ? "TypeError" : "Error";
    return { id: request.id, ok: false, error: { type, message: error.message } };
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() !== "") process.stdout.write(JSON.stringify(answer(line)) + "\n");
});
