#!/usr/bin/python3
"""A `command` trainer for the example `weather` model: multinomial logistic regression in numpy,
exported to ONNX with the same signature as the built-in weather MLP, so a version it produces can
replace production's.

The trainer contract (docs/training.md, control-plane/runner/executor.ts), as environment:
  SLUICE_DATASET     a seattle-weather CSV (date,precipitation,temp_max,temp_min,wind,weather)
  SLUICE_OUTPUT_DIR  where model.onnx, metrics.json and inputs.csv (the training rows) go
  SLUICE_PARAMS      JSON object; all optional:
                       epochs (300), learning_rate (0.5), l2 (0.0001), seed (42),
                       holdout_fraction (0.2), train_years (every year in the file)
It prints one JSON line per progress step ({"epoch":10,"loss":0.71}) on stdout, logs on stderr,
and exits 2 on bad input (missing variable, unknown parameter, malformed CSV).

Run it with Debian's Python (`apt-get install python3-numpy python3-onnx`):
  SLUICE_DATASET=node_modules/vega-datasets/data/seattle-weather.csv SLUICE_OUTPUT_DIR=/tmp/out \
  SLUICE_PARAMS='{"epochs":200}' /usr/bin/python3 examples/trainers/weather_logreg.py
"""
import csv
import datetime
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The weather model's contract (examples/weather-dataset.ts): input columns in order, and classes.
FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year']
LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun']
HEADER = ['date', 'precipitation', 'temp_max', 'temp_min', 'wind', 'weather']
DEFAULTS = {'epochs': 300, 'learning_rate': 0.5, 'l2': 0.0001, 'seed': 42, 'holdout_fraction': 0.2, 'train_years': None}


class BadInput(Exception):
    pass


def progress(record):
    print(json.dumps(record), flush=True)


def log(message):
    print(message, file=sys.stderr, flush=True)


def parameters():
    raw = os.environ.get('SLUICE_PARAMS', '{}') or '{}'
    try:
        given = json.loads(raw)
    except json.JSONDecodeError as err:
        raise BadInput(f'SLUICE_PARAMS is not JSON: {err}')
    if not isinstance(given, dict):
        raise BadInput('SLUICE_PARAMS must be a JSON object')
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise BadInput(f'unknown parameters {unknown}; known: {sorted(DEFAULTS)}')
    p = {**DEFAULTS, **given}
    if not (isinstance(p['epochs'], int) and p['epochs'] >= 1):
        raise BadInput('epochs must be an integer >= 1')
    for name in ('learning_rate', 'l2'):
        if not (isinstance(p[name], (int, float)) and p[name] >= 0 and math.isfinite(p[name])):
            raise BadInput(f'{name} must be a non-negative number')
    if not (isinstance(p['holdout_fraction'], (int, float)) and 0 < p['holdout_fraction'] < 1):
        raise BadInput('holdout_fraction must be between 0 and 1')
    if not isinstance(p['seed'], int):
        raise BadInput('seed must be an integer')
    if p['train_years'] is not None and not (isinstance(p['train_years'], list) and all(isinstance(y, int) for y in p['train_years'])):
        raise BadInput('train_years must be a list of years')
    return p


def load(path):
    """Rows of (year, raw feature row, label index) in file order."""
    rows = []
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != HEADER:
            raise BadInput(f'{path}: header must be {",".join(HEADER)}, found {header}')
        for n, cols in enumerate(reader, start=2):
            if not cols:
                continue
            if len(cols) != len(HEADER):
                raise BadInput(f'{path} line {n}: {len(cols)} columns, expected {len(HEADER)}')
            date, precipitation, temp_max, temp_min, wind, weather = cols
            try:
                day = datetime.date.fromisoformat(date)
                values = [float(precipitation), float(temp_max), float(temp_min), float(wind)]
            except ValueError as err:
                raise BadInput(f'{path} line {n}: {err}')
            if not all(math.isfinite(v) for v in values):
                raise BadInput(f'{path} line {n}: a value is not finite')
            if weather not in LABELS:
                raise BadInput(f'{path} line {n}: unknown label {weather!r}')
            rows.append((day.year, values + [float(day.timetuple().tm_yday)], LABELS.index(weather)))
    if not rows:
        raise BadInput(f'{path}: no data rows')
    return rows


def mulberry32(seed):
    """lib/random.ts's seededRandom, bit for bit, so the holdout is the built-in trainer's."""
    a = seed & 0xFFFFFFFF

    def random():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return random


def shuffled_indices(n, random):
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = math.floor(random() * (i + 1))
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def split(rows, p):
    """examples/weather.ts's splitWeather: a seeded holdout (JS Math.round of the count) from the training years."""
    years = p['train_years']
    chosen = [r for r in rows if years is None or r[0] in years]
    if len(chosen) < 10:
        raise BadInput(f'only {len(chosen)} rows in the training years')
    order = shuffled_indices(len(chosen), mulberry32(p['seed']))
    cut = math.floor(len(chosen) * p['holdout_fraction'] + 0.5)
    pick = lambda ids: (np.array([chosen[i][1] for i in ids]), np.array([chosen[i][2] for i in ids]))
    return pick(order[cut:]), pick(order[:cut])


def encode(raw):
    """The graph's encoding: day of year → sin/cos(2π·day/365.25) appended after the other columns."""
    angle = raw[:, 4:5] * np.float32(2 * math.pi / 365.25)
    return np.concatenate([raw[:, :4], np.sin(angle), np.cos(angle)], axis=1)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(x, y, p):
    """Full-batch gradient descent on the L2-regularised cross-entropy of standardized inputs."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    onehot = np.eye(len(LABELS))[y]
    w = np.zeros((z.shape[1], len(LABELS)))
    b = np.zeros(len(LABELS))
    report_every = max(1, p['epochs'] // 20)
    loss = float('nan')
    for epoch in range(1, p['epochs'] + 1):
        probs = softmax(z @ w + b)
        loss = float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)) + 0.5 * p['l2'] * np.sum(w * w))
        grad = (probs - onehot) / len(y)
        w -= p['learning_rate'] * (z.T @ grad + p['l2'] * w)
        b -= p['learning_rate'] * grad.sum(axis=0)
        if epoch % report_every == 0 or epoch == p['epochs']:
            progress({'epoch': epoch, 'loss': round(loss, 6)})
    return mean, std, w, b, loss


def predict(model, raw):
    mean, std, w, b, _ = model
    return np.argmax(((encode(raw) - mean) / std) @ w + b, axis=1)


def to_onnx(model, metadata):
    """Same graph interface as examples/onnx-export.ts: `features` [batch,5] FP32 in;
    `probabilities` [batch,5] FP32 and `label` [batch] INT64 out."""
    mean, std, w, b, _ = model
    f32 = lambda name, a: numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)
    i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)
    init = [
        i64('axis1', [1]), i64('day_start', [4]), i64('day_end', [5]), i64('head_start', [0]), i64('head_end', [4]),
        f32('radians_per_day', 2 * math.pi / 365.25), f32('mean', mean), f32('std', std), f32('w', w), f32('b', b),
    ]
    nodes = [
        helper.make_node('Slice', ['features', 'day_start', 'day_end', 'axis1'], ['day']),
        helper.make_node('Mul', ['day', 'radians_per_day'], ['angle']),
        helper.make_node('Sin', ['angle'], ['season_sin']),
        helper.make_node('Cos', ['angle'], ['season_cos']),
        helper.make_node('Slice', ['features', 'head_start', 'head_end', 'axis1'], ['head']),
        helper.make_node('Concat', ['head', 'season_sin', 'season_cos'], ['encoded'], axis=1),
        helper.make_node('Sub', ['encoded', 'mean'], ['centered']),
        helper.make_node('Div', ['centered', 'std'], ['standardized']),
        helper.make_node('Gemm', ['standardized', 'w', 'b'], ['logits']),
        helper.make_node('Softmax', ['logits'], ['probabilities'], axis=1),
        helper.make_node('ArgMax', ['logits'], ['label'], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, 'weather', [helper.make_tensor_value_info('features', TensorProto.FLOAT, ['batch', len(FEATURES)])],
        [helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, ['batch', len(LABELS)]),
         helper.make_tensor_value_info('label', TensorProto.INT64, ['batch'])],
        initializer=init,
    )
    m = helper.make_model(graph, producer_name='sluice-weather-logreg', opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 7
    helper.set_model_props(m, metadata)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main():
    try:
        dataset = os.environ['SLUICE_DATASET']
        out = os.environ['SLUICE_OUTPUT_DIR']
    except KeyError as err:
        log(f'missing environment variable {err.args[0]} (see the trainer contract in docs/training.md)')
        return 2
    try:
        p = parameters()
        (x, y), (hx, hy) = split(load(dataset), p)
    except BadInput as err:
        log(f'bad input: {err}')
        return 2
    log(f'training on {len(y)} rows, holdout {len(hy)} rows, parameters {json.dumps(p)}')
    model = train(encode(x), y, p)
    metrics = {
        'holdout_accuracy': float(np.mean(predict(model, hx) == hy)),
        'holdout_majority_rate': float(np.bincount(hy, minlength=len(LABELS)).max() / len(hy)),
        'train_accuracy': float(np.mean(predict(model, x) == y)),
        'final_loss': model[4],
        'train_rows': len(y),
        'holdout_rows': len(hy),
    }
    onnx_bytes = to_onnx(model, {
        'labels': ','.join(LABELS),
        'features': ','.join(FEATURES),
        'holdout_accuracy': f"{metrics['holdout_accuracy']:.4f}",
    })
    # The rows as the model takes them: the runner builds the version's drift profile from these.
    inputs = ','.join(FEATURES) + '\n' + ''.join(','.join(repr(float(v)) for v in row) + '\n' for row in x)
    # Write then rename, so a reader never sees half a model.
    for name, data in (('model.onnx', onnx_bytes), ('metrics.json', json.dumps(metrics, indent=2).encode()), ('inputs.csv', inputs.encode())):
        tmp = os.path.join(out, f'.{name}.tmp')
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, name))
    progress(metrics)
    return 0


if __name__ == '__main__':
    sys.exit(main())
