#!/usr/bin/env python3
"""A modelgate `command` model: logistic regression over standardized features.

Usage: python3 model.py weights.json
Speaks modelgate's command protocol version 1 (the README's section "The command protocol") on stdin/stdout.
Standard library only. Logs go to stderr: stdout carries protocol messages and nothing else.
"""
import json
import math
import sys

PROTOCOL = 1


def log(*parts):
    print("model.py:", *parts, file=sys.stderr, flush=True)


def send(message):
    sys.stdout.write(json.dumps(message, allow_nan=False) + "\n")
    sys.stdout.flush()


def sigmoid(z):
    # Two branches so that exp never overflows.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Model:
    def __init__(self, weights_path):
        with open(weights_path) as f:
            w = json.load(f)
        self.classes = w["classes"]
        self.intercept = w["intercept"]
        self.terms = w["features"]
        self.columns = None

    def bind(self, features):
        """Map each weight to its position in the rows the runner will send."""
        position = {name: i for i, name in enumerate(features)}
        missing = [t["name"] for t in self.terms if t["name"] not in position]
        if missing:
            raise ValueError("features not sent by the runner: " + ", ".join(missing))
        unused = [f for f in features if f not in {t["name"] for t in self.terms}]
        if unused:
            log("ignoring features the model does not use:", ", ".join(unused))
        self.columns = [position[t["name"]] for t in self.terms]

    def probability(self, row):
        z = self.intercept
        for t, col in zip(self.terms, self.columns):
            x = row[col]
            # A missing value is imputed with the training mean, i.e. contributes nothing.
            if x is not None:
                z += t["coef"] * (x - t["mean"]) / t["scale"]
        return sigmoid(z)

    def predict(self, rows):
        p1 = [self.probability(r) for r in rows]
        return {
            "labels": [self.classes[1] if p >= 0.5 else self.classes[0] for p in p1],
            "probabilities": [[1.0 - p, p] for p in p1],
            "classes": self.classes,
        }


def main(argv):
    if len(argv) != 2:
        log("usage: model.py weights.json")
        return 2
    model = Model(argv[1])
    log("loaded the model from", argv[1])
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0  # the runner closed stdin: nothing more to do
        message = json.loads(line)
        kind = message.get("type")
        if kind == "hello":
            if message.get("protocol") != PROTOCOL:
                send({"type": "error", "message": "model.py speaks protocol %d only" % PROTOCOL})
                return 1
            try:
                model.bind(message["features"])
            except ValueError as e:
                send({"type": "error", "message": str(e)})
                return 1
            send({"type": "ready", "protocol": PROTOCOL, "model": {"name": "breast-cancer-logreg", "version": "1"}})
        elif kind == "predict":
            try:
                result = model.predict(message["rows"])
            except (TypeError, ValueError, KeyError) as e:
                send({"type": "error", "id": message["id"], "message": str(e)})
                continue
            send(dict(type="result", id=message["id"], **result))
        elif kind == "shutdown":
            return 0
        else:
            log("ignoring unknown message type", kind)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
