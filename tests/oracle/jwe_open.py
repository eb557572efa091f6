#!/usr/bin/python3
"""Opens JWEs with jwcrypto, an implementation independent of the kiosk's josekit.

Usage: jwe_open.py PRIVATE_KEY.pem < compact JWEs, one per line
Prints one JSON object per line: {"protected": <the protected header as sent>,
"plaintext_hex": <the plaintext, hex>} or {"error": "..."} for a JWE it cannot open.
Only the algorithms of the municipality API are allowed, so a JWE that used anything else
fails here instead of being opened.
"""
import json
import sys

from jwcrypto import jwe, jwk

ALLOWED = ["ECDH-ES+A256KW", "A256GCM"]


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    for line in sys.stdin:
        compact = line.strip()
        if not compact:
            continue
        try:
            token = jwe.JWE(algs=ALLOWED)
            token.deserialize(compact, key=key)
            protected = json.loads(token.objects["protected"])
            out = {
                "protected": protected,
                "plaintext_hex": token.payload.hex(),
            }
        except Exception as e:  # report, never crash: the test names the JWE that failed
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
