#!/usr/bin/env python3
"""A tiny Docker/OCI registry token server for tests (loopback only, stdlib + openssl CLI).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with optional Basic auth.
Replies {"token": JWT, "access_token": JWT, "expires_in": 300}, the JWT signed RS256 with
KEY and carrying CERT in its x5c header, as docker-registry's `auth: token:` expects.

Who gets what (intersection of what is asked and what is allowed):
  alice:s3cret   priv/*: pull,push   ro/*: pull
  anonymous      pub/*: pull
Wrong credentials get 401. Each request is logged as one JSON line to LOG:
  {"user": ..., "scopes": [...asked...], "granted": [...]}

Usage: token_server.py PORT KEY.pem CERT.pem ISSUER LOG
"""
import base64
import fnmatch
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

PORT, KEY, CERT, ISSUER, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
USERS = {"alice": "s3cret"}
ACL = {"alice": [("priv/*", {"pull", "push"}), ("ro/*", {"pull"})], "": [("pub/*", {"pull"})]}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der_b64():
    pem = open(CERT).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return body  # standard base64 of the DER, as x5c wants


X5C = cert_der_b64()


def sign(msg):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=msg,
                       stdout=subprocess.PIPE, check=True)
    return p.stdout


def make_token(user, service, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": ISSUER, "sub": user, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing = (b64url(json.dumps(header).encode()) + "." +
               b64url(json.dumps(claims).encode())).encode()
    return signing.decode() + "." + b64url(sign(signing))


def grant(user, scope):
    parts = scope.split(":")
    if len(parts) < 3 or parts[0] != "repository":
        return None
    name, asked = ":".join(parts[1:-1]), set(parts[-1].split(","))
    allowed = set()
    for pattern, acts in ACL.get(user, []):
        if fnmatch.fnmatch(name, pattern):
            allowed |= acts
    acts = sorted(asked & allowed)
    return {"type": "repository", "name": name, "actions": acts} if acts else None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        if u.path != "/token":
            return self.reply(404, {"error": "not found"})
        q = parse_qs(u.query)
        user = ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return self.reply(400, {"error": "bad authorization header"})
            if USERS.get(name) != pw:
                return self.reply(401, {"error": "invalid credentials"})
            user = name
        scopes = q.get("scope", [])
        access = [g for g in (grant(user, s) for s in scopes) if g]
        with open(LOG, "a") as f:
            f.write(json.dumps({"user": user, "scopes": scopes, "granted": access}) + "\n")
        tok = make_token(user, q.get("service", [""])[0], access)
        self.reply(200, {"token": tok, "access_token": tok, "expires_in": 300})


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
