"""The failures .ci/vendor_conformance.py accepts, each narrowed to one refusal and its reason.

Each is a request the simulator's document (the vendor's, narrowed by vendor/readings.yml) counts
as valid that the simulator refuses with a 400 for a reason no JSON Schema can state. A failure is
dropped only when the response's status and message say it is that refusal; any other failure of
the same operation still fails the run. schemathesis reports how many it dropped ("Filtered: N"),
and this file lists them after its summary.
"""

import atexit
import collections
import json
import re

import schemathesis

REJECTED_POSITIVE_DATA = "ST202"
ACCEPTED_NEGATIVE_DATA = "ST201"



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


def always(_case):
    return True


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
    # --- Request bodies (crates/keap-sim/src/rest_v2/request_bodies.rs, builders.rs) ---
    (
        # Whether an id names a record is the account's state, not the request's shape.
        "a reference to a record that does not exist",
        r"(POST|PATCH) /rest/v2/",
        r"^[\w.]+ \d+ does not exist$",
        always,
    ),
    (
        # A relation between the items of an array (their `field` slots must differ).
        "two entries of a contact for the same slot",
        r"(POST|PATCH) /rest/v2/contacts",
        r"^\w+: field \w+ appears twice$",
        always,
    ),
    (
        # A relation between fields of the create request: one of three arrays must hold an
        # entry (FACTS.md: a contact needs an email, a phone or an address). The document uses the
        # same schema for PATCH, where none is needed, so no reading can say it.
        "a contact created without an email, a phone or an address",
        r"POST /rest/v2/contacts$",
        r"^A contact needs at least one of email_addresses, phone_numbers or addresses$",
        always,
    ),
    (
        # PhoneNumber, FaxNumber and Address are shared with companies, whose entries the
        # simulator takes as they come; a contact's entries need their number and slot.
        "a contact's phone, fax or address entry without its number or slot",
        r"(POST|PATCH) /rest/v2/contacts",
        r"^(phone_numbers|fax_numbers|addresses)\[\d+\]\.\w+ (is required|must be one of )",
        always,
    ),
    (
        # CreateUpdateTagRequest is the schema of both create and update; only a create needs a name.
        "a tag created without a name",
        r"POST /rest/v2/tags$",
        r"^Missing required field: name$",
        always,
    ),
    (
        # The count after an adjustment depends on the count before it, the record's state.
        "an inventory adjustment past zero or the largest count",
        r"POST /rest/v2/products/\{product_id\}:adjustInventory$",
        r"^Inventory cannot go below zero or above 2147483647$",
        always,
    ),
]


def only_empty_values_invalid(failure, case):
    """Whether the request broke its schema only by sending a query parameter empty (`fields=`),
    which the simulator reads as absent: Keap's v2 API is gRPC transcoded, and in proto3 an empty
    string or list is the same as an unset one (rest_v2/query.rs `given`)."""
    empty = [name for name, value in (case.query or {}).items() if value in ("", [""], [])]
    return bool(empty) and any(f"parameter `{name}` in query" in str(failure.message) for name in empty)


def excuse(failure, case, response):
    """The reason `failure` is accepted, or None."""
    if failure.code == ACCEPTED_NEGATIVE_DATA and response.status_code < 300:
        if only_empty_values_invalid(failure, case):
            return "an empty query parameter read as absent (proto3)"
        return None
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
