#!/usr/bin/env python3
"""promparse - parse Prometheus text exposition (format 0.0.4) read on
stdin with the reference parser, prometheus_client.parser (Debian's
python3-prometheus-client), and print it as JSON for the integration tests
(tests/it/ops.test.mjs):

  {"families": [{"name", "type", "help",
                 "samples": [{"name", "labels": {...}, "value"}]}]}

A value that JSON cannot hold (+Inf, -Inf, NaN) is printed as a string.
Text the parser refuses makes this exit with status 1 and the reason on
stderr, so a malformed /metrics fails the test.
"""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(v):
    return v if math.isfinite(v) else str(v)


def main():
    text = sys.stdin.read()
    try:
        families = [
            {
                "name": f.name,
                "type": f.type,
                "help": f.documentation,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels),
                     "value": value(s.value)}
                    for s in f.samples
                ],
            }
            for f in text_string_to_metric_families(text)
        ]
    except Exception as err:  # the parser raises ValueError and others
        print(f"promparse: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    json.dump({"families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
