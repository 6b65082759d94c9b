"""The failures .ci/vendor_conformance.py accepts, each narrowed to one refusal and its reason.

Each is a schema-valid request (ST202) that the simulator, as the vendor, refuses with a 400 for a
reason no JSON Schema can state. A failure is dropped only when the response's status and message
say it is that refusal; any other failure of the same operation still fails the run. schemathesis
reports how many it dropped ("Filtered: N"), and this file lists them after its summary.
"""

import atexit
import collections
import json
import re

import schemathesis

REJECTED_POSITIVE_DATA = "ST202"


def message_of(response):
    """The v2 error's `message` ("" when absent)."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def sent(case, name):
    """Whether the request carried the query parameter `name`."""
    return (case.query or {}).get(name) is not None


# (why, which operations, the refusal's message, a condition on the request)
EXCUSED = [
    # ---- Parameters ----
    (
        # A page token is opaque and bound to its query: only the simulator issues them (signed,
        # rest_v2/query.rs PageTokens), as only the vendor issues its own.
        "a `page_token` the simulator did not issue for this query",
        r"GET /rest/v2/",
        r"^Invalid page_token$",
        lambda case: sent(case, "page_token"),
    ),
]


def excuse(failure, case, response):
    """The reason `failure` is accepted, or None."""
    if failure.code != REJECTED_POSITIVE_DATA or response.status_code != 400:
        return None
    operation = f"{case.method.upper()} {case.operation.path}"
    message = message_of(response)
    for why, operations, message_pattern, condition in EXCUSED:
        if re.match(operations, operation) and re.search(message_pattern, message) and condition(case):
            return why
    return None


ACCEPTED = collections.Counter()


@schemathesis.hook
def filter_failure(context, failure, case, response):
    why = excuse(failure, case, response)
    if why is None:
        return True
    ACCEPTED[(failure.code, why)] += 1
    return False


@atexit.register
def report():
    """Says what was accepted and why, after schemathesis's own summary."""
    if ACCEPTED:
        print("Accepted refusals (.ci/vendor_conformance_hooks.py):")
        for (code, why), count in ACCEPTED.most_common():
            print(f"  {count:5} {code} {why}")
