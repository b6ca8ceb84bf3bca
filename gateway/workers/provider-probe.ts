// Can ONNX Runtime create a session on an execution provider here? Creates one session of a
// one-node model (Identity on a float vector) built in memory, on that provider alone. Used by
// `sluice doctor`, bench/gpu and the GPU test suite to tell a CUDA host from one without CUDA.
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface ProviderProbe {
  provider: string;
  /** The provider library ships in the installed onnxruntime-node (listSupportedBackends). */
  bundled: boolean | null;
  /** A session was created on it. */
  ok: boolean;
  /** ONNX Runtime's reason when it was not. */
  error?: string;
}

/** A model with one Identity node: every provider ORT has implements it. */
export function identityModel(): Uint8Array {
  const T = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string) => onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: T, shape: onnx.TensorShapeProto.create({ dim: [onnx.TensorShapeProto.Dimension.create({ dimValue: 4 })] }) }) }),
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'sluice-doctor',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph: onnx.GraphProto.create({
      name: 'probe',
      node: [onnx.NodeProto.create({ opType: 'Identity', name: 'id', input: ['x'], output: ['y'] })],
      input: [info('x')],
      output: [info('y')],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The providers the installed binding knows, with whether their library ships with it. */
export function knownProviders(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/** Try to create a session on `provider` alone (CUDA on `deviceId`) and run it once. */
export async function probeProvider(provider: 'cpu' | 'cuda', deviceId = 0): Promise<ProviderProbe> {
  const bundled = knownProviders().find((b) => b.name === provider)?.bundled ?? null;
  const ep = provider === 'cuda' ? { name: 'cuda', deviceId } : 'cpu';
  try {
    const session = await ort.InferenceSession.create(identityModel(), { executionProviders: [ep], logSeverityLevel: 4 });
    try {
      await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]) });
    } finally {
      await session.release();
    }
    return { provider, bundled, ok: true };
  } catch (err) {
    return { provider, bundled, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
