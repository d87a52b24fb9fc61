"""The route a user would take instead of modelgate, timed by scripts/bench.mjs.

pandas reads the evaluation file, numpy applies the model's own arithmetic (the Scaler and the
LinearClassifier of the exported logistic regression, read from the ONNX file with the onnx package),
and scikit-learn computes the metrics modelgate reports for a binary classifier. Prints one JSON line:
the seconds spent in each step (imports included in `seconds`, as a user waits for them).
"""
import json
import resource
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pandas as pd  # noqa: E402
from onnx import helper  # noqa: E402
from sklearn import metrics  # noqa: E402

path, model_path, features, label = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4]
t_import = time.perf_counter()
if path.endswith('.parquet'):
    df = pd.read_parquet(path, columns=features + [label])
else:
    df = pd.read_csv(path, usecols=features + [label])
t_read = time.perf_counter()

attrs = {}
for node in onnx.load(model_path).graph.node:
    attrs[node.op_type] = {a.name: helper.get_attribute_value(a) for a in node.attribute}
scaler, linear = attrs['Scaler'], attrs['LinearClassifier']
x = (df[features].to_numpy(dtype=np.float32) - np.asarray(scaler['offset'], np.float32)) * np.asarray(scaler['scale'], np.float32)
coef = np.asarray(linear['coefficients'], np.float32).reshape(-1, len(features))
z = x @ coef.T + np.asarray(linear['intercepts'], np.float32)
if z.shape[1] == 1:
    p1 = 1 / (1 + np.exp(-z[:, 0]))
else:
    p1 = 1 / (1 + np.exp(-(z[:, 1])))
y = df[label].to_numpy()
pred = (p1 >= 0.5).astype(int)
t_model = time.perf_counter()

out = {
    'accuracy': metrics.accuracy_score(y, pred),
    'balanced_accuracy': metrics.balanced_accuracy_score(y, pred),
    'precision': metrics.precision_score(y, pred),
    'recall': metrics.recall_score(y, pred),
    'f1': metrics.f1_score(y, pred),
    'mcc': metrics.matthews_corrcoef(y, pred),
    'roc_auc': metrics.roc_auc_score(y, p1),
    'average_precision': metrics.average_precision_score(y, p1),
    'log_loss': metrics.log_loss(y, np.column_stack([1 - p1, p1])),
    'brier': metrics.brier_score_loss(y, p1),
}
t_end = time.perf_counter()
print(json.dumps({
    'seconds': t_end - t0,
    'importSeconds': t_import - t0,
    'readSeconds': t_read - t_import,
    'modelSeconds': t_model - t_read,
    'metricsSeconds': t_end - t_model,
    'rows': int(len(df)),
    'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    'metrics': out,
}))
