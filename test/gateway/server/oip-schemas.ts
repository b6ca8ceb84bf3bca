// The Open Inference Protocol's REST response bodies (open_inference_rest.yaml and
// inference_rest.md in kserve/open-inference-protocol), written out here as validators in our
// own words, with the binary tensor data extension's additions (an output may carry
// parameters.binary_data_size instead of data). Each validator returns the problems it found:
// an empty list is a conforming body. Extra members are allowed, as the spec does not close its
// objects (Sluice adds `code` to error bodies and `version` to model readiness).

type Check = (value: unknown, at: string, problems: string[]) => void;

const DATATYPES = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const string: Check = (v, at, p) => void (typeof v !== 'string' && p.push(`${at} must be a string`));
const boolean: Check = (v, at, p) => void (typeof v !== 'boolean' && p.push(`${at} must be a boolean`));
const datatype: Check = (v, at, p) => void (!(typeof v === 'string' && DATATYPES.has(v)) && p.push(`${at} must be one of the protocol's datatypes`));

function arrayOf(item: Check): Check {
  return (v, at, p) => {
    if (!Array.isArray(v)) p.push(`${at} must be an array`);
    else v.forEach((x, i) => item(x, `${at}[${i}]`, p));
  };
}

const shape: Check = arrayOf((v, at, p) => void (!Number.isInteger(v) && p.push(`${at} must be an integer`)));

/** $parameters: an object whose values are strings, numbers or booleans. */
const parameters: Check = (v, at, p) => {
  if (!isObject(v)) return void p.push(`${at} must be an object`);
  for (const [k, x] of Object.entries(v)) {
    if (!(typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)))) p.push(`${at}.${k} must be a string, number or boolean`);
  }
};

/** $tensor_data: an array of numbers, strings, booleans or (nested) such arrays; no null. */
const tensorData: Check = (v, at, p) => {
  if (!Array.isArray(v)) return void p.push(`${at} must be an array`);
  v.forEach((x, i) => {
    if (Array.isArray(x)) tensorData(x, `${at}[${i}]`, p);
    else if (!(typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)))) p.push(`${at}[${i}] must be a number, string or boolean`);
  });
};

function object(fields: Record<string, [required: boolean, check: Check]>): Check {
  return (v, at, p) => {
    if (!isObject(v)) return void p.push(`${at} must be an object`);
    for (const [name, [required, check]] of Object.entries(fields)) {
      if (v[name] === undefined) {
        if (required) p.push(`${at}.${name} is required`);
      } else check(v[name], `${at}.${name}`, p);
    }
  };
}

const tensorMetadata = object({ name: [true, string], datatype: [true, datatype], shape: [true, shape], parameters: [false, parameters] });

/** $response_output: data, or under the binary extension parameters.binary_data_size and no data. */
const responseOutput: Check = (v, at, p) => {
  object({ name: [true, string], shape: [true, shape], datatype: [true, datatype], parameters: [false, parameters], data: [false, tensorData] })(v, at, p);
  if (!isObject(v)) return;
  const binarySize = isObject(v.parameters) ? v.parameters.binary_data_size : undefined;
  if (binarySize === undefined && v.data === undefined) p.push(`${at}.data is required (or parameters.binary_data_size)`);
  if (binarySize !== undefined && v.data !== undefined) p.push(`${at} has both data and binary_data_size`);
  if (binarySize !== undefined && !(Number.isInteger(binarySize) && (binarySize as number) >= 0)) p.push(`${at}.parameters.binary_data_size must be a non-negative integer`);
};

export const SCHEMAS = {
  serverMetadata: object({ name: [true, string], version: [true, string], extensions: [true, arrayOf(string)] }),
  serverLive: object({ live: [true, boolean] }),
  serverReady: object({ ready: [true, boolean] }),
  modelMetadata: object({
    name: [true, string], versions: [false, arrayOf(string)], platform: [true, string],
    inputs: [true, arrayOf(tensorMetadata)], outputs: [true, arrayOf(tensorMetadata)], parameters: [false, parameters],
  }),
  modelReady: object({ name: [true, string], ready: [true, boolean] }),
  inferenceResponse: object({
    model_name: [true, string], model_version: [false, string], id: [false, string], parameters: [false, parameters], outputs: [true, arrayOf(responseOutput)],
  }),
  error: object({ error: [true, string] }),
} satisfies Record<string, Check>;

export type SchemaName = keyof typeof SCHEMAS;

export function validate(schema: SchemaName, body: unknown): string[] {
  const problems: string[] = [];
  SCHEMAS[schema](body, 'body', problems);
  return problems;
}
