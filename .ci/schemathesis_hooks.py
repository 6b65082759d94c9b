"""The few failures .ci/schemathesis.py accepts, each narrowed to one refusal and its reason.

Each is a schema-valid request (ST202) that the server or the vendor rightly refuses with a 400 for
a reason no JSON Schema can state: a query language, an opaque token, a bound over two parameters,
or the state of the vendor's records. A failure is dropped only when the response's message says
it is that refusal; any other failure of the same operation still fails the run. schemathesis
reports how many it dropped ("Filtered: N").
"""

import atexit
import collections
import json
import re

import schemathesis

REJECTED_POSITIVE_DATA = "ST202"


def message_of(response):
    """The JSON error's `message` and `providerMessage` ("" when absent)."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("message", "")), str(body.get("providerMessage", ""))


def sent(case, name):
    """Whether the request carried the query parameter `name` (the message says what the server
    made of it: Python and Rust do not agree on which characters are whitespace)."""
    return (case.query or {}).get(name) is not None


# (why, which operations, the refusal's message, its providerMessage, a condition on the request)
EXCUSED = [
    (
        # Whether an instance's events are on is its configuration's, not the request's: poll now
        # and backfill answer 409 naming the key for an instance whose events are off. Tested with
        # events on in crates/http/tests/it/events.rs and crates/junction/tests/it/events.rs.
        "poll now or a backfill of an instance whose events are off",
        r"PUT /instances/\{id\}/events/(poll|backfill)$",
        r"^events are not enabled for this instance",
        r"^$",
        lambda case: True,
    ),
    (
        # CEQL is a language: a JSON Schema string cannot say which strings parse. The hub answers
        # a 400 naming the column; valid conditions are covered by crates/http/tests/it/hub_lists.rs.
        "a `where` that is not a CEQL condition of the object's fields",
        r"GET /hubs/\w+/",
        r"^Error parsing query: ",
        r"^$",
        lambda case: sent(case, "where"),
    ),
    (
        # A page token is opaque and bound to its query: only the server issues them.
        "a `nextPage` the server did not issue for this query",
        r"GET (/hubs/\w+/|/instances$)",
        r"^Invalid parameter 'nextPage'",
        r"^$",
        lambda case: sent(case, "nextPage"),
    ),
    (
        # (page - 1) x pageSize may not pass 20,000 rows: a bound over two parameters, stated in
        # the parameter's description; beyond it nextPage reaches every record.
        "a `page` beyond the 20,000 rows pages by number reach",
        r"GET /hubs/\w+/",
        r"^Invalid parameter 'page': reading past",
        r"^$",
        lambda case: sent(case, "page"),
    ),
    (
        # An authorization code is the vendor's to issue, once: the platform exchanges it and
        # answers the vendor's refusal of any other.
        "an OAuth code the vendor did not issue",
        r"(POST|PUT) /(instances|elements/\{keyOrId\}/instances)(/\{id\})?$",
        r"^The vendor rejected the authorization code",
        r"",
        lambda case: True,
    ),
    (
        # Which configuration keys exist, which are required and what each takes are the
        # instance's element's (GET /elements/{keyOrId}/configuration) and the server's (the
        # vendor hosts it accepts): the platform document's bodies are the same for every element.
        "a configuration entry the instance's element does not take",
        r"(POST|PUT|PATCH) /(instances|elements/\{keyOrId\}/instances)(/\{id\})?$",
        r"^(Unknown|Missing required|Invalid) configuration ",
        r"",
        lambda case: True,
    ),
    (
        # A reference (ContactID, UserID, CompanyID, ...) must name a record the vendor account
        # holds; the schema says it is an id, not which ids exist.
        "an id of a record the vendor account does not hold",
        r"(POST|PATCH|PUT) /hubs/\w+/",
        r"^The vendor answered HTTP 400$",
        r"^[a-z_.]+ \d+ does not exist$",
        lambda case: True,
    ),
    (
        # The stock a decrease may take away is the product's current stock.
        "a decrease of more than the product's stock",
        r"PATCH /hubs/\w+/products/\{id\}/inventory$",
        r"^The vendor answered HTTP 400$",
        r"^Inventory cannot go below zero",
        lambda case: True,
    ),
    (
        # A phone's type needs its number: on update the number may already be in the contact,
        # so the update schema cannot require it (the create schema does).
        "a phone type written to a contact that has no such phone number",
        r"(PATCH|PUT) /hubs/\w+/(contacts|customers)/\{id\}$",
        r"^The vendor answered HTTP 400$",
        r"^phone_numbers\[\d+\]\.number is required$",
        lambda case: True,
    ),
    (
        # A transformation maps a definition the organization wrote before, onto an object of the
        # instance's element: which definitions exist is the organization's state, and which vendor
        # fields and types an element object has is the catalog's (crates/http/tests/it/
        # common_resources.rs covers each refusal and the accepted documents).
        "a transformation of no definition, or one that does not fit the element's object",
        r"(POST|PUT) /(organizations/elements/\{keyOrId\}|instances(/\{id\})?)/transformations/",
        r"^(There is no definition of |Invalid transformation of )",
        r"^$",
        lambda case: True,
    ),
    (
        # Paths unique ignoring case, and none both a value and a prefix of another: a relation
        # between array items that JSON Schema's uniqueItems cannot state; and an object name may
        # not be one of the element's (contacts, CONTACTS) or a path of the hub API.
        "a definition whose paths clash, or whose name an element object or hub path takes",
        r"(POST|PUT) /(organizations|instances/\{id\})/objects/",
        r"(clashes with|is the name of \w+'s object|is a path of the hub API)",
        r"^$",
        lambda case: True,
    ),
    (
        # A definition replaced must still fit the transformations that map it (organization state).
        "a definition replaced under a transformation it would break",
        r"PUT /(organizations|instances/\{id\})/objects/",
        r"^The .* transformation of .* would break: ",
        r"^$",
        lambda case: True,
    ),
]


def excuse(failure, case, response):
    """The reason `failure` is accepted, or None."""
    if failure.code != REJECTED_POSITIVE_DATA or response.status_code != 400:
        return None
    operation = f"{case.method.upper()} {case.operation.path}"
    message, provider_message = message_of(response)
    for why, operations, message_pattern, provider_pattern, condition in EXCUSED:
        if (
            re.match(operations, operation)
            and re.search(message_pattern, message)
            and re.search(provider_pattern, provider_message)
            and condition(case)
        ):
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
        print("Accepted refusals (.ci/schemathesis_hooks.py):")
        for (code, why), count in ACCEPTED.most_common():
            print(f"  {count:5} {code} {why}")
