"""The Flask example service: POST /add {"a": 1, "b": 2} -> {"result": 3} on 0.0.0.0:80."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/add")
def add():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="expected a JSON object with numbers a and b"), 400
    a, b = body.get("a"), body.get("b")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        return jsonify(error="a and b must be numbers"), 400
    return jsonify(result=a + b)


@app.get("/healthz")
def healthz():
    return "ok\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=80)
