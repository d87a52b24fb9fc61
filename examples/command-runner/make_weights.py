"""Fit the example's logistic regression and write weights.json.

Fitted on the training split only, so that data/test.csv stays unseen. Run with a Python that has
scikit-learn (e.g. Debian's /usr/bin/python3):
    /usr/bin/python3 examples/command-runner/make_weights.py examples/command-runner/data/train.csv
(then `npx prettier --write examples/command-runner/weights.json`, as the repository formats JSON).
The output is committed so that neither the example nor its tests need scikit-learn.
"""
import csv
import json
import os
import sys

from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def main(csv_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    features = header[:-1]
    x = [[float(v) for v in r[:-1]] for r in body]
    y = [int(r[-1]) for r in body]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=0.1, max_iter=1000).fit(scaler.transform(x), y)
    # Rounded so the file stays readable; the example and its test use these exact numbers.
    weights = {
        "classes": [int(c) for c in model.classes_],
        "intercept": round(float(model.intercept_[0]), 6),
        "features": [
            {"name": n, "mean": round(float(m), 6), "scale": round(float(s), 6), "coef": round(float(c), 6)}
            for n, m, s, c in zip(features, scaler.mean_, scaler.scale_, model.coef_[0])
        ],
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.json")
    with open(out, "w") as f:
        json.dump(weights, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
