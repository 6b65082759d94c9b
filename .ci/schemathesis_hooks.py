"""The few failures .ci/schemathesis.py accepts, each narrowed to one refusal and its reason.

Each is a schema-valid request (ST202) that the server or the vendor rightly refuses with a 400 for
a reason no JSON Schema can state: a query language, an opaque token, a bound over two parameters,
or the state of the vendor's records (or, for a byte range past the end of a bulk result, a 416).
One is a request schemathesis counts as valid that is not (an empty Range header). A failure is
dropped only when the response's status and message say it is that refusal; any other failure of
the same operation still fails the run. schemathesis reports how many it dropped ("Filtered: N").
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


def header_of(case, name):
    """The request's header `name` (any case), or None."""
    return next((value for key, value in (case.headers or {}).items() if key.lower() == name.lower()), None)


# A bulk result's one byte range, as the hub document states it (crates/http/src/api_docs/bulk_document.rs).
RANGE = r"bytes=([0-9]{1,19}-([0-9]{1,19})?|-[0-9]{1,19})"


def body_has(case, name):
    """Whether the request's JSON body is an object with the string field `name`."""
    return isinstance(case.body, dict) and isinstance(case.body.get(name), str)


# (why, which operations, the refusal's message, its providerMessage, a condition on the request[,
# its status when not 400])
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
    (
        # A bulk query is a language too (`select <fields> from <object> [where <CEQL>] [order by
        # <field>]`), over the fields of the object it names and the orders the vendor can apply.
        # Valid queries are covered by crates/http/tests/it/bulk.rs.
        "a `q` that is not a bulk query of the object's fields",
        r"POST /hubs/\w+/bulk/query$",
        r"^(Invalid parameter 'q': |Error parsing query: |Invalid orderBy: )",
        r"^$",
        lambda case: sent(case, "q") or body_has(case, "q"),
    ),
    (
        # `q` may be in the query string or in the body; OpenAPI cannot require one of the two.
        "a bulk query job with `q` in neither the query string nor the body",
        r"POST /hubs/\w+/bulk/query$",
        r"^Missing parameter 'q'",
        r"^$",
        lambda case: not sent(case, "q") and not body_has(case, "q"),
    ),
    (
        # A format's grammar (UTF-8 CSV whose header names the object's fields, rows as wide as it;
        # or one JSON object per line) is not a JSON Schema of the file part, which is bytes.
        # Well-formed files are covered by crates/http/tests/it/bulk.rs.
        "an uploaded file that is not UTF-8 CSV or JSON lines of the object's fields",
        r"POST /hubs/\w+/bulk/\{objectName\}$",
        r"^The uploaded file was refused: ",
        r"^$",
        lambda case: True,
    ),
    (
        # An upsert's identifierFieldName must be a field of the object the path names: a relation
        # between the body and a path parameter, which JSON Schema cannot state.
        "an upsert by a field the path's object does not have",
        r"POST /hubs/\w+/bulk/\{objectName\}$",
        r"^Invalid metaData: identifierFieldName '.*' is not a field of ",
        r"^$",
        lambda case: True,
    ),
    (
        # A formula template's rules relate its parts to one another: step names unique, every
        # onSuccess/onFailure and ${...} naming a step or slot the template has, no cycle outside a
        # loop, the properties each step type needs, a Quartz cron, lengths in bytes (a schema's
        # maxLength counts characters). The schema states the shape the loader accepts; these
        # refusals start with the JSON pointer of each problem. Covered one by one in
        # crates/formulas/tests/it/template.rs and crates/http/tests/it/formulas.rs.
        "a formula template that does not validate",
        r"(POST|PUT|PATCH) /formulas(/\{id\})?$",
        r"^Invalid formula: /",
        r"^$",
        lambda case: True,
    ),
    (
        # A merge patch is applied to what is stored: whether the result loads depends on it.
        "a formula merge patch whose result is not a template",
        r"PATCH /formulas/\{id\}$",
        r"^Invalid formula: ",
        r"^$",
        lambda case: True,
    ),
    (
        # Which names the organization's formulas already hold is its state.
        "a formula named like another of the organization",
        r"(POST|PUT|PATCH) /formulas(/\{id\})?$",
        r"^A formula named .* already exists in this organization",
        r"^$",
        lambda case: True,
        409,
    ),
    (
        # A page token is opaque: only the server issues them.
        "a formula list `nextPage` the server did not issue",
        r"GET /formulas$",
        r"^Invalid parameter 'nextPage'",
        r"^$",
        lambda case: sent(case, "nextPage"),
    ),
    (
        # Which keys a formula instance's configuration may hold, and which of them must be an
        # instance id, are the template's slots: the template is the server's state, not the path's
        # schema. Covered in crates/http/tests/it/formula_runs.rs.
        "a formula instance configuration that does not fit the template's slots",
        r"POST /formulas/\{id\}/instances$",
        r"^configuration\.",
        r"^$",
        lambda case: True,
    ),
    (
        # Not a refusal of valid data: schemathesis 4.32.5's coverage phase draws header values from
        # letters and digits only, so it has no valid value for the Range pattern (`bytes=...`), and
        # it puts its first invalid one (an empty Range) into cases it counts as valid. Only a Range
        # the document's pattern refuses is excused; a valid one refused with a 400 still fails.
        "an empty or malformed Range that schemathesis counted as valid",
        r"GET /hubs/\w+/bulk/\{id\}/\{objectName\}$",
        r"^Invalid Range header: ",
        r"^$",
        lambda case: not re.fullmatch(RANGE, header_of(case, "Range") or ""),
    ),
    (
        # What a range may read is what the job has committed when the request arrives (and a
        # range whose end is before its start is one no pattern can tell: it compares numbers).
        "a Range past the end of a bulk result so far",
        r"GET /hubs/\w+/bulk/\{id\}/\{objectName\}$",
        r"^The range (starts at or after the end of the result|ends before it starts)",
        r"^$",
        lambda case: header_of(case, "Range") is not None,
        416,
    ),
    (
        # Which callback hosts are refused (this machine, private, link-local and metadata
        # addresses) is the server's outbound policy (--allow-private-callbacks), and which host
        # names parse is the URL standard's; the pattern states the scheme and the host's presence.
        "a callback URL whose host the outbound policy refuses, or that does not parse",
        r"POST /hubs/\w+/bulk/",
        r"^Elements-Async-Callback-Url: ",
        r"^$",
        lambda case: header_of(case, "Elements-Async-Callback-Url") is not None,
    ),
]


def excuse(failure, case, response):
    """The reason `failure` is accepted, or None."""
    if failure.code != REJECTED_POSITIVE_DATA:
        return None
    operation = f"{case.method.upper()} {case.operation.path}"
    message, provider_message = message_of(response)
    for why, operations, message_pattern, provider_pattern, condition, *status in EXCUSED:
        if (
            response.status_code == (status[0] if status else 400)
            and re.match(operations, operation)
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
