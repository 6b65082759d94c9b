#!/usr/bin/env python3
"""Round trip of Keap's own generated Python SDK (keap-core-v2-sdk 2.0.26) against the simulator.

Usage:
    python3 sdk_roundtrip.py --base-url http://127.0.0.1:PORT --access-token TOKEN

The SDK's paths are `/rest/v2/...` under a host ending in `/crm`, so the host given to it is
`<base-url>/crm`. Only the SDK's API classes are used (no raw HTTP). Every run uses a random
suffix, so it can be rerun against the same server. On the first failure it prints what failed
(with the SDK exception's status and body) and exits 1; at the end it prints
`sdk roundtrip: N checks passed`.
"""

import argparse
import datetime as dt
import sys
import time
import traceback
import uuid

from keap_core_v2_client import ApiClient, Configuration
from keap_core_v2_client.api import (
    CampaignApi,
    CompanyApi,
    ContactApi,
    NoteApi,
    OpportunityApi,
    OrdersApi,
    ProductsApi,
    SalesApi,
    SubscriptionsApi,
    TagsApi,
    TaskApi,
    UsersApi,
)
from keap_core_v2_client.exceptions import ApiException
from keap_core_v2_client.models import (
    ApplyRemoveTagRequest,
    CreateCompanyRequest,
    CreateNoteRequest,
    CreateOpportunityRequest,
    CreateOrderItemRequest,
    CreateProductRequestDetail,
    CreateSubscriptionRequest,
    CreateTaskRequest,
    CreateUpdateContactRequest,
    CreateUpdateTagRequest,
    CreateUpdateTaskRequest,
    EmailAddress,
    EmailAddressRequest,
    PhoneNumber,
    RestCreateOrderRequest,
    RestCreatePaymentRequest,
    UpdateCompanyRequest,
    UpdateNoteRequest,
    UpdateOpportunityRequestV2,
    UpdateOrderRequest,
    UpdateProductRequestDetail,
    UpdateSubscriptionRequest,
)

# An id no seeded or created record has.
MISSING_ID = "987654321"
REQUEST_TIMEOUT = 30.0
MAX_429_RETRIES = 6

checks_passed = 0
current_check = "setup"


class CheckFailed(Exception):
    """An assertion on the server's behaviour did not hold."""


class CallFailed(Exception):
    """An SDK call raised (an ApiException, or the SDK could not parse the response)."""

    def __init__(self, label, error):
        super().__init__(label)
        self.label = label
        self.error = error


# --------------------------------------------------------------------------- helpers


def require(condition, message):
    """Raises CheckFailed with `message` when `condition` is false (not counted)."""
    if not condition:
        raise CheckFailed(message)


def check(condition, message):
    """Like require, and counts one passed check."""
    global checks_passed
    require(condition, message)
    checks_passed += 1


def label_of(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))


def retry_delay(error, attempt):
    headers = error.headers or {}
    value = None
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        pass
    try:
        return min(float(value), 10.0) if value is not None else 0.5 * (attempt + 1)
    except ValueError:
        return 0.5 * (attempt + 1)


def raw_call(fn, *args, **kwargs):
    """Calls an SDK method, retrying a 429 (throttling) a few times."""
    kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
    for attempt in range(MAX_429_RETRIES + 1):
        try:
            return fn(*args, **kwargs)
        except ApiException as error:
            if error.status == 429 and attempt < MAX_429_RETRIES:
                time.sleep(retry_delay(error, attempt))
                continue
            raise


def call(fn, *args, **kwargs):
    """Calls an SDK method that must succeed; any exception becomes CallFailed."""
    try:
        return raw_call(fn, *args, **kwargs)
    except Exception as error:  # ApiException, pydantic ValidationError, urllib3 errors
        raise CallFailed(label_of(fn), error) from error


def returns_model(fn, *args, **kwargs):
    """Calls an SDK method that must return a model (a None means an undeclared 2xx status)."""
    result = call(fn, *args, **kwargs)
    require(
        result is not None,
        f"{label_of(fn)} returned no model: the server answered a 2xx status the SDK does not "
        f"declare for this operation (e.g. 200 where only 201 is declared)",
    )
    return result


def expect_status(status, fn, *args, **kwargs):
    """Calls an SDK method that must raise ApiException with `status`."""
    label = label_of(fn)
    try:
        result = raw_call(fn, *args, **kwargs)
    except ApiException as error:
        check(
            error.status == status,
            f"{label} raised status {error.status}, expected {status}; body: {error.body}",
        )
        return error
    except Exception as error:
        raise CallFailed(label, error) from error
    raise CheckFailed(f"{label} succeeded (returned {result!r:.300}), expected ApiException {status}")


def collect_pages(fn, items_attr, page_size, *args, max_pages=2000, **kwargs):
    """Pages through a list operation until next_page_token runs out; returns (items, pages)."""
    items = []
    token = None
    pages = 0
    while True:
        response = returns_model(fn, *args, page_size=page_size, page_token=token, **kwargs)
        page = getattr(response, items_attr) or []
        pages += 1
        require(
            len(page) <= page_size,
            f"{label_of(fn)} page {pages} has {len(page)} items, more than page_size={page_size}",
        )
        items.extend(page)
        token = response.next_page_token
        if not token:
            return items, pages
        require(
            len(page) == page_size,
            f"{label_of(fn)} page {pages} has {len(page)} items but a next_page_token: only the "
            f"last page may be short",
        )
        require(pages < max_pages, f"{label_of(fn)}: paging did not end after {max_pages} pages")


def check_paging(fn, items_attr, small, *args, big_page=1000, min_pages=1, **kwargs):
    """Small pages through the whole list: no duplicates, same records as a big-page read."""
    name = label_of(fn)
    big, _ = collect_pages(fn, items_attr, big_page, *args, **kwargs)
    big_ids = [item.id for item in big]
    check(all(i for i in big_ids), f"{name}: an item has no id")
    check(len(big_ids) == len(set(big_ids)), f"{name}: duplicate ids in the full read")
    paged, pages = collect_pages(fn, items_attr, small, *args, **kwargs)
    paged_ids = [item.id for item in paged]
    dupes = sorted({i for i in paged_ids if paged_ids.count(i) > 1})
    check(not dupes, f"{name}: paging with page_size={small} returned duplicates {dupes[:10]}")
    check(
        len(paged_ids) == len(big_ids),
        f"{name}: paging with page_size={small} gave {len(paged_ids)} items, the full read "
        f"{len(big_ids)}",
    )
    check(set(paged_ids) == set(big_ids), f"{name}: paged ids differ from the full read's")
    check(pages >= min_pages, f"{name}: expected at least {min_pages} pages, got {pages}")
    return big_ids


def id_key(value):
    require(value is not None and value.isdigit(), f"id {value!r} is not a numeric string")
    return int(value)


def ids_of(items):
    return [item.id for item in (items or [])]


def same_time(text, expected):
    """Whether an ISO-8601 string denotes the instant `expected` (aware datetime)."""
    if not text:
        return False
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed == expected


# --------------------------------------------------------------------------- checks


def check_auth(base_url, token):
    """A bogus or missing bearer token is refused with 401."""
    for bad_token in ("bogus-" + uuid.uuid4().hex, None):
        config = Configuration(host=base_url + "/crm", access_token=bad_token)
        with ApiClient(config) as bad_client:
            error = expect_status(401, ContactApi(bad_client).list_contacts, page_size=1)
            check(error.body is not None, "401 response has no body")
            expect_status(401, UsersApi(bad_client).list_paginated_users, page_size=1)
    # And the real token works.
    config = Configuration(host=base_url + "/crm", access_token=token)
    with ApiClient(config) as good_client:
        returns_model(ContactApi(good_client).list_contacts, page_size=1)


def check_contacts(api_client, sfx):
    api = ContactApi(api_client)
    prefix = f"Rt{sfx}"
    emails = {k: f"rt-{sfx}-{k}@example.com" for k in ("a", "b")}
    created = {}
    for k in ("a", "b"):
        request = CreateUpdateContactRequest(
            given_name=f"{prefix}{k}",
            family_name=f"Fam{sfx}{k}",
            email_addresses=[EmailAddressRequest(email=emails[k], field="EMAIL1")],
            phone_numbers=[PhoneNumber(number="555-0100", field="PHONE1")],
        )
        contact = returns_model(api.create_contact, request)
        check(bool(contact.id), "create_contact returned no id")
        check(contact.given_name == f"{prefix}{k}", f"create_contact given_name {contact.given_name!r}")
        created[k] = contact.id
    a, b = created["a"], created["b"]

    got = returns_model(api.get_contact, a)
    check(got.id == a, f"get_contact id {got.id!r} != {a!r}")
    check(got.given_name == f"{prefix}a", f"get_contact given_name {got.given_name!r}")
    check(got.family_name == f"Fam{sfx}a", f"get_contact family_name {got.family_name!r}")
    got_emails = [(e.email, e.var_field) for e in (got.email_addresses or [])]
    check((emails["a"], "EMAIL1") in got_emails, f"get_contact email_addresses {got_emails}")
    got_phones = [(p.number, p.var_field) for p in (got.phone_numbers or [])]
    check(("555-0100", "PHONE1") in got_phones, f"get_contact phone_numbers {got_phones}")

    # Filters: exact email, exact and wildcard given_name, two clauses joined by ';'.
    found = returns_model(api.list_contacts, filter=f"email=={emails['a']}")
    check(ids_of(found.contacts) == [a], f"filter email=={emails['a']} gave {ids_of(found.contacts)}")
    found = returns_model(api.list_contacts, filter=f"given_name=={prefix}a")
    check(ids_of(found.contacts) == [a], f"filter given_name=={prefix}a gave {ids_of(found.contacts)}")
    found = returns_model(api.list_contacts, filter=f"given_name=={prefix}*")
    check(
        sorted(ids_of(found.contacts)) == sorted([a, b]),
        f"filter given_name=={prefix}* gave {ids_of(found.contacts)}, expected {[a, b]}",
    )
    found = returns_model(api.list_contacts, filter=f"given_name=={prefix}*;family_name==Fam{sfx}b")
    check(ids_of(found.contacts) == [b], f"filter with ';' gave {ids_of(found.contacts)}, expected [{b}]")
    found = returns_model(api.list_contacts, filter=f"email==nobody-{sfx}@example.com")
    check(not found.contacts, "filter on an unknown email returned contacts")
    check(not found.next_page_token, "an empty result has a next_page_token")

    # Paging: small pages vs one big read.
    all_ids = check_paging(api.list_contacts, "contacts", 7, min_pages=3)
    check(a in all_ids and b in all_ids, "created contacts missing from the full list")
    for i in all_ids:
        id_key(i)

    # order_by: "<field> <direction>", kept across pages.
    desc, _ = collect_pages(api.list_contacts, "contacts", 50, order_by="id desc")
    desc_ids = [id_key(c.id) for c in desc]
    check(desc_ids == sorted(desc_ids, reverse=True), "order_by='id desc' is not descending by id")
    check(len(desc_ids) == len(all_ids), "order_by='id desc' paging lost or added items")
    check(desc_ids[0] == max(id_key(i) for i in all_ids), "order_by='id desc' does not start at the max id")
    asc = returns_model(api.list_contacts, order_by="id asc", page_size=5)
    asc_ids = [id_key(c.id) for c in asc.contacts or []]
    check(asc_ids == sorted(desc_ids)[:5], f"order_by='id asc' first page {asc_ids}")

    # PATCH with update_mask: only the masked field changes.
    new_family = f"Upd{sfx}"
    updated = returns_model(
        api.update_contact,
        a,
        CreateUpdateContactRequest(given_name="MaskedOut", family_name=new_family),
        update_mask=["family_name"],
    )
    check(updated.family_name == new_family, f"update_contact family_name {updated.family_name!r}")
    check(updated.given_name == f"{prefix}a", f"update_mask ignored: given_name {updated.given_name!r}")
    got = returns_model(api.get_contact, a)
    check(got.family_name == new_family, f"get after update: family_name {got.family_name!r}")
    check(got.given_name == f"{prefix}a", f"get after update: given_name {got.given_name!r}")
    got_emails = [e.email for e in (got.email_addresses or [])]
    check(emails["a"] in got_emails, f"update dropped the email: {got_emails}")
    # PATCH without update_mask: fields absent from the body stay as they were.
    returns_model(api.update_contact, b, CreateUpdateContactRequest(middle_name="Q"))
    got = returns_model(api.get_contact, b)
    check(got.middle_name == "Q", f"update without mask: middle_name {got.middle_name!r}")
    check(got.given_name == f"{prefix}b", f"update without mask changed given_name: {got.given_name!r}")

    # Delete.
    for cid in (a, b):
        check(call(api.delete_contact, cid) is None, "delete_contact returned a body")
        expect_status(404, api.get_contact, cid)
    expect_status(404, api.delete_contact, a)
    expect_status(404, api.update_contact, a, CreateUpdateContactRequest(family_name="x"))
    found = returns_model(api.list_contacts, filter=f"email=={emails['a']}")
    check(not found.contacts, "a deleted contact is still listed")


def check_companies(api_client, sfx):
    api = CompanyApi(api_client)
    name = f"RtCo-{sfx}"
    company = returns_model(
        api.create_company,
        CreateCompanyRequest(
            company_name=name,
            email_address=EmailAddress(email=f"co-{sfx}@example.com", field="EMAIL1"),
            phone_number=PhoneNumber(number="555-0101", field="PHONE1"),
            website="https://example.com",
        ),
    )
    cid = company.id
    check(bool(cid), "create_company returned no id")
    check(company.company_name == name, f"create_company company_name {company.company_name!r}")
    got = returns_model(api.get_company, cid)
    check(got.id == cid and got.company_name == name, f"get_company returned {got.id!r}/{got.company_name!r}")
    check(
        got.email_address is not None and got.email_address.email == f"co-{sfx}@example.com",
        f"get_company email_address {got.email_address!r}",
    )

    found = returns_model(api.list_companies, filter=f"company_name=={name}")
    check(ids_of(found.companies) == [cid], f"filter company_name=={name} gave {ids_of(found.companies)}")
    found = returns_model(api.list_companies, filter=f"name==RtCo-{sfx[:6]}*")
    check(cid in ids_of(found.companies), f"filter name==RtCo-{sfx[:6]}* missed the company")
    all_ids = check_paging(api.list_companies, "companies", 3)
    check(cid in all_ids, "created company missing from the full list")

    new_name = f"RtCo2-{sfx}"
    updated = returns_model(
        api.update_company, cid, UpdateCompanyRequest(company_name=new_name, notes="masked out"),
        update_mask=["company_name"],
    )
    check(updated.company_name == new_name, f"update_company company_name {updated.company_name!r}")
    got = returns_model(api.get_company, cid)
    check(got.company_name == new_name, f"get after update: company_name {got.company_name!r}")
    check(got.notes != "masked out", "update_mask ignored: notes changed")
    found = returns_model(api.list_companies, filter=f"company_name=={new_name}")
    check(ids_of(found.companies) == [cid], f"filter on the new name gave {ids_of(found.companies)}")

    check(call(api.delete_company, cid) is None, "delete_company returned a body")
    expect_status(404, api.get_company, cid)


def check_users(api_client):
    api = UsersApi(api_client)
    page = returns_model(api.list_paginated_users, page_size=10)
    users = page.users or []
    check(len(users) > 0, "list_paginated_users returned no users")
    first = users[0]
    got = returns_model(api.get_user_by_id, first.id)
    check(got.id == first.id, f"get_user_by_id id {got.id!r} != {first.id!r}")
    check_paging(api.list_paginated_users, "users", 1, big_page=100)
    expect_status(404, api.get_user_by_id, MISSING_ID)
    return first.id


def make_fixture_contact(api_client, sfx):
    contact = returns_model(
        ContactApi(api_client).create_contact,
        CreateUpdateContactRequest(
            given_name=f"Fixture{sfx}",
            family_name="Roundtrip",
            email_addresses=[EmailAddressRequest(email=f"fixture-{sfx}@example.com", field="EMAIL1")],
        ),
    )
    check(bool(contact.id), "fixture create_contact returned no id")
    return contact.id


def check_opportunities(api_client, sfx, contact_id, user_id):
    api = OpportunityApi(api_client)
    stages = returns_model(api.list_opportunity_stages).stages or []
    check(len(stages) > 0, "list_opportunity_stages returned no stages")
    check(all(s.id for s in stages), "a stage has no id")
    stage_id = stages[0].id
    title = f"RtOpp-{sfx}"
    opp = returns_model(
        api.create_opportunity,
        CreateOpportunityRequest(
            contact_id=contact_id, stage_id=stage_id, opportunity_title=title, user_id=user_id,
            projected_revenue_low=100, projected_revenue_high=250.5,
        ),
    )
    oid = opp.id
    check(bool(oid), "create_opportunity returned no id")
    check(opp.contact.id == contact_id, f"create_opportunity contact.id {opp.contact.id!r}")
    check(opp.stage.id == stage_id, f"create_opportunity stage.id {opp.stage.id!r}")
    check(opp.opportunity_title == title, f"create_opportunity title {opp.opportunity_title!r}")
    got = returns_model(api.get_opportunity, oid)
    check(got.id == oid and got.opportunity_title == title, "get_opportunity mismatch")
    check(got.projected_revenue_high == 250.5, f"projected_revenue_high {got.projected_revenue_high!r}")

    found = returns_model(api.list_opportunities, filter=f"contact_id=={contact_id}")
    check(ids_of(found.opportunities) == [oid], f"filter contact_id gave {ids_of(found.opportunities)}")
    found = returns_model(api.list_opportunities, filter=f"opportunity_title==RtOpp-{sfx[:6]}*")
    check(oid in ids_of(found.opportunities), "filter opportunity_title wildcard missed it")
    check_paging(api.list_opportunities, "opportunities", 2)

    new_title = f"RtOpp2-{sfx}"
    new_stage = stages[1].id if len(stages) > 1 else stage_id
    updated = returns_model(
        api.update_opportunity, oid,
        UpdateOpportunityRequestV2(opportunity_title=new_title, stage_id=new_stage, opportunity_notes="masked"),
        update_mask=["opportunity_title", "stage_id"],
    )
    check(updated.opportunity_title == new_title, f"update_opportunity title {updated.opportunity_title!r}")
    got = returns_model(api.get_opportunity, oid)
    check(got.opportunity_title == new_title, f"get after update: title {got.opportunity_title!r}")
    check(got.stage.id == new_stage, f"get after update: stage.id {got.stage.id!r} != {new_stage!r}")
    check(got.opportunity_notes != "masked", "update_mask ignored: opportunity_notes changed")

    check(call(api.delete_opportunity, oid) is None, "delete_opportunity returned a body")
    expect_status(404, api.get_opportunity, oid)


def check_tags(api_client, sfx, contact_id):
    api = TagsApi(api_client)
    name = f"rt-tag-{sfx}"
    tag = returns_model(api.create_tag, CreateUpdateTagRequest(name=name, description="roundtrip"))
    tid = tag.id
    check(bool(tid) and tag.name == name, f"create_tag returned {tag.id!r}/{tag.name!r}")
    got = returns_model(api.get_tag, tid)
    check(got.id == tid and got.name == name and got.description == "roundtrip", "get_tag mismatch")
    found = returns_model(api.list_tags, filter=f"name=={name}")
    check(ids_of(found.tags) == [tid], f"filter name=={name} gave {ids_of(found.tags)}")
    check_paging(api.list_tags, "tags", 2)

    updated = returns_model(
        api.update_tag, tid, CreateUpdateTagRequest(name="masked-out", description="updated"),
        update_mask=["description"],
    )
    check(updated.description == "updated", f"update_tag description {updated.description!r}")
    got = returns_model(api.get_tag, tid)
    check(got.description == "updated" and got.name == name, f"get after update: {got.name!r}/{got.description!r}")

    applied = returns_model(api.apply_tags, tid, ApplyRemoveTagRequest(contact_ids=[contact_id]))
    check(applied.results is not None and contact_id in applied.results,
          f"apply_tags results {applied.results!r} lack contact {contact_id}")
    contact_tags = returns_model(ContactApi(api_client).list_tags_for_contact, contact_id)
    tag_ids = [t.tag.id for t in (contact_tags.tags or []) if t.tag is not None]
    check(tid in tag_ids, f"list_tags_for_contact {tag_ids} lacks the applied tag {tid}")
    tagged = returns_model(api.list_contacts_with_tag_id, tid)
    check(ids_of(tagged.contacts) == [contact_id], f"list_contacts_with_tag_id gave {ids_of(tagged.contacts)}")
    contact = returns_model(ContactApi(api_client).get_contact, contact_id, fields=["id", "tag_ids"])
    check(tid in (contact.tag_ids or []), f"get_contact tag_ids {contact.tag_ids!r} lacks {tid}")

    check(call(api.remove_tags, tid, ApplyRemoveTagRequest(contact_ids=[contact_id])) is None,
          "remove_tags returned a body")
    contact_tags = returns_model(ContactApi(api_client).list_tags_for_contact, contact_id)
    tag_ids = [t.tag.id for t in (contact_tags.tags or []) if t.tag is not None]
    check(tid not in tag_ids, f"tag {tid} still on the contact after remove_tags")
    tagged = returns_model(api.list_contacts_with_tag_id, tid)
    check(not tagged.contacts, "list_contacts_with_tag_id not empty after remove_tags")

    check(call(api.delete_tag, tid) is None, "delete_tag returned a body")
    expect_status(404, api.get_tag, tid)
    expect_status(404, api.apply_tags, tid, ApplyRemoveTagRequest(contact_ids=[contact_id]))


def check_notes(api_client, sfx, contact_id, user_id):
    api = NoteApi(api_client)
    title = f"RtNote-{sfx}"
    note = returns_model(
        api.create_note, contact_id,
        CreateNoteRequest(user_id=user_id, title=title, text="first text", type="Call"),
    )
    nid = note.id
    check(bool(nid), "create_note returned no id")
    check(note.title == title and note.text == "first text", f"create_note returned {note.title!r}/{note.text!r}")
    got = returns_model(api.get_note, contact_id, nid)
    check(got.id == nid and got.contact_id == contact_id, f"get_note {got.id!r}/{got.contact_id!r}")
    check(got.text == "first text", f"get_note text {got.text!r}")

    found = returns_model(api.list_notes, contact_id)
    check(ids_of(found.notes) == [nid], f"list_notes gave {ids_of(found.notes)}")
    found = returns_model(api.list_notes, contact_id, filter=f"title=={title}")
    check(ids_of(found.notes) == [nid], f"list_notes filter title=={title} gave {ids_of(found.notes)}")
    found = returns_model(api.list_notes, contact_id, filter=f"title==NoSuchTitle{sfx}")
    check(not found.notes, "list_notes filter on an unknown title returned notes")

    updated = returns_model(
        api.update_note, contact_id, nid,
        UpdateNoteRequest(user_id=user_id, text="second text", title="masked out"),
        update_mask=["text"],
    )
    check(updated.text == "second text", f"update_note text {updated.text!r}")
    got = returns_model(api.get_note, contact_id, nid)
    check(got.text == "second text" and got.title == title, f"get after update: {got.title!r}/{got.text!r}")

    check(call(api.delete_note, contact_id, nid) is None, "delete_note returned a body")
    expect_status(404, api.get_note, contact_id, nid)


def check_tasks(api_client, sfx, contact_id, user_id):
    api = TaskApi(api_client)
    title = f"RtTask-{sfx}"
    due = dt.datetime(2030, 1, 15, 17, 0, tzinfo=dt.timezone.utc)
    task = returns_model(
        api.create_task,
        CreateTaskRequest(
            assigned_to_user_id=user_id, title=title, description="do it", contact_id=contact_id,
            due_time="2030-01-15T17:00:00Z", priority="ESSENTIAL", remind_time_mins=30, completed=False,
        ),
    )
    tid = task.id
    check(bool(tid), "create_task returned no id")
    check(task.title == title and task.assigned_to_user_id == user_id, "create_task mismatch")
    got = returns_model(api.get_task, tid)
    check(got.id == tid and got.contact_id == contact_id, f"get_task {got.id!r}/{got.contact_id!r}")
    check(got.priority == "ESSENTIAL" and got.completed is False, f"get_task {got.priority!r}/{got.completed!r}")
    check(same_time(got.due_time, due), f"get_task due_time {got.due_time!r}")

    found = returns_model(api.list_tasks, filter=f"contact_id=={contact_id}")
    check(ids_of(found.tasks) == [tid], f"filter contact_id gave {ids_of(found.tasks)}")
    found = returns_model(api.list_tasks, filter=f"title==RtTask-{sfx[:6]}*")
    check(tid in ids_of(found.tasks), "filter title wildcard missed the task")
    check_paging(api.list_tasks, "tasks", 2)

    updated = returns_model(
        api.update_task, tid,
        CreateUpdateTaskRequest(completed=True, title=f"{title}-done", description="masked out"),
        update_mask=["completed", "title"],
    )
    check(updated.completed is True and updated.title == f"{title}-done", "update_task mismatch")
    got = returns_model(api.get_task, tid)
    check(got.completed is True and got.title == f"{title}-done", f"get after update: {got.completed!r}/{got.title!r}")
    check(got.description == "do it", f"update_mask ignored: description {got.description!r}")
    found = returns_model(api.list_tasks, filter=f"contact_id=={contact_id};is_completed==true")
    check(ids_of(found.tasks) == [tid], f"filter is_completed==true gave {ids_of(found.tasks)}")

    check(call(api.delete_task, tid) is None, "delete_task returned a body")
    expect_status(404, api.get_task, tid)


def create_product(api_client, sku, name, price):
    product = returns_model(
        ProductsApi(api_client).create_product,
        CreateProductRequestDetail(
            name=name, sku=sku, price=price, short_description="roundtrip product",
            description="a product made by the SDK round trip", active=True, shippable=False, taxable=False,
        ),
    )
    check(bool(product.id), "create_product returned no id")
    return product


def check_products(api_client, sfx):
    api = ProductsApi(api_client)
    sku = f"RT-{sfx}"
    product = create_product(api_client, sku, f"RtProduct {sfx}", 1250)
    pid = product.id
    check(product.name == f"RtProduct {sfx}" and product.sku == sku, "create_product mismatch")
    check(product.price is not None and product.price.amount == 1250, f"create_product price {product.price!r}")
    got = returns_model(api.get_product, pid)
    check(got.id == pid and got.sku == sku, f"get_product {got.id!r}/{got.sku!r}")
    check(got.price is not None and got.price.amount == 1250, f"get_product price {got.price!r}")

    found = returns_model(api.list_products, filter=f"sku=={sku}")
    check(ids_of(found.products) == [pid], f"filter sku=={sku} gave {ids_of(found.products)}")
    found = returns_model(api.list_products, filter=f"sku==RT-{sfx[:6]}*")
    check(pid in ids_of(found.products), "filter sku wildcard missed the product")
    check_paging(api.list_products, "products", 3)

    updated = returns_model(
        api.update_product, pid,
        UpdateProductRequestDetail(name=f"RtProduct2 {sfx}", price=1999, description="masked out"),
        update_mask=["name", "price"],
    )
    check(updated.name == f"RtProduct2 {sfx}", f"update_product name {updated.name!r}")
    got = returns_model(api.get_product, pid)
    check(got.name == f"RtProduct2 {sfx}" and got.price.amount == 1999, f"get after update: {got.name!r}/{got.price!r}")
    check(got.description != "masked out", "update_mask ignored: description changed")

    check(call(api.delete_product, pid) is None, "delete_product returned a body")
    expect_status(404, api.get_product, pid)


def check_orders(api_client, sfx, contact_id):
    api = OrdersApi(api_client)
    product = create_product(api_client, f"RTO-{sfx}", f"RtOrderProduct {sfx}", 1250)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    title = f"RtOrder-{sfx}"
    order = returns_model(
        api.create_order,
        RestCreateOrderRequest(contact_id=contact_id, order_time=now, order_title=title, order_type="OFFLINE"),
    )
    oid = order.id
    check(bool(oid), "create_order returned no id")
    check(order.title == title, f"create_order title {order.title!r} (expected order_title)")
    check(order.contact is not None and order.contact.id == contact_id, f"create_order contact {order.contact!r}")
    check(order.order_type == "OFFLINE", f"create_order order_type {order.order_type!r}")
    got = returns_model(api.get_order, oid)
    check(got.id == oid and got.title == title, f"get_order {got.id!r}/{got.title!r}")
    check(got.order_time == now, f"get_order order_time {got.order_time!r} != {now!r}")

    found = returns_model(api.list_orders, filter=f"contact_id=={contact_id}")
    check(ids_of(found.orders) == [oid], f"filter contact_id gave {ids_of(found.orders)}")
    check_paging(api.list_orders, "orders", 2)

    item = returns_model(
        api.create_order_item, oid,
        CreateOrderItemRequest(product_id=product.id, quantity=2, item_type="PRODUCT", price_per_unit=12.5),
    )
    check(bool(item.id) and item.quantity == 2, f"create_order_item {item.id!r}/{item.quantity!r}")
    got_item = returns_model(api.get_order_item, oid, item.id)
    check(got_item.id == item.id and got_item.quantity == 2, "get_order_item mismatch")
    check(got_item.product is not None and got_item.product.id == product.id,
          f"get_order_item product {got_item.product!r}")
    got = returns_model(api.get_order, oid)
    check(item.id in ids_of(got.order_items), f"get_order order_items {ids_of(got.order_items)} lack {item.id}")

    new_title = f"RtOrder2-{sfx}"
    updated = returns_model(
        api.update_order, oid, UpdateOrderRequest(order_title=new_title, notes="masked out"),
        update_mask=["order_title"],
    )
    check(updated.title == new_title, f"update_order title {updated.title!r}")
    got = returns_model(api.get_order, oid)
    check(got.title == new_title, f"get after update: title {got.title!r}")
    check(got.notes != "masked out", "update_mask ignored: notes changed")

    payments = returns_model(api.list_order_payments, oid)
    check(not payments.invoice_order_payments, "a new order already has payments")
    payment = returns_model(
        api.create_payment_for_an_order, oid,
        RestCreatePaymentRequest(payment_amount=5.0, apply_to_commissions=False, payment_method_type="Cash",
                                 notes=f"pay-{sfx}", payment_time=now),
    )
    check(payment.payment_amount == 5.0, f"create_payment payment_amount {payment.payment_amount!r}")
    payments = returns_model(api.list_order_payments, oid)
    listed = payments.invoice_order_payments or []
    check(len(listed) == 1, f"list_order_payments gave {len(listed)} payments, expected 1")
    check(listed[0].amount == 5.0, f"list_order_payments amount {listed[0].amount!r}")
    expect_status(404, api.list_order_payments, MISSING_ID)

    check(call(api.delete_order_item, oid, item.id) is None, "delete_order_item returned a body")
    expect_status(404, api.get_order_item, oid, item.id)

    # Delete on an order of its own (without payments).
    other = returns_model(
        api.create_order,
        RestCreateOrderRequest(contact_id=contact_id, order_time=now, order_title=f"{title}-x", order_type="ONLINE"),
    )
    check(call(api.delete_order, other.id) is None, "delete_order returned a body")
    expect_status(404, api.get_order, other.id)
    return oid


def check_subscriptions(api_client, sfx, contact_id):
    api = SubscriptionsApi(api_client)
    plan_id = None
    products, _ = collect_pages(ProductsApi(api_client).list_products, "products", 1000)
    for product in products:
        for plan in product.subscription_plans or []:
            if plan.id and plan.active is not False:
                plan_id = plan.id
                break
        if plan_id:
            break
    if plan_id:
        sub = returns_model(
            api.create_subscription,
            CreateSubscriptionRequest(contact_id=contact_id, subscription_plan_id=plan_id, quantity=1,
                                      auto_charge=False, allow_duplicate=True),
        )
        sid = sub.id
        check(bool(sid) and sub.contact_id == contact_id, f"create_subscription {sub.id!r}/{sub.contact_id!r}")
        check(sub.subscription_plan_id == plan_id, f"create_subscription plan {sub.subscription_plan_id!r}")
        found = returns_model(api.list_subscriptions, filter=f"contact_id=={contact_id}")
        check(ids_of(found.subscriptions) == [sid], f"filter contact_id gave {ids_of(found.subscriptions)}")
        updated = returns_model(api.update_subscription, sid, UpdateSubscriptionRequest(quantity=3),
                                update_mask=["quantity"])
        check(updated.quantity == 3, f"update_subscription quantity {updated.quantity!r}")
        got = returns_model(api.get_subscription, sid)
        check(got.id == sid and got.quantity == 3, f"get after update: {got.id!r}/{got.quantity!r}")
    else:
        print("  note: no product has a subscription plan; subscription create/update skipped")
    all_ids = check_paging(api.list_subscriptions, "subscriptions", 2)
    if all_ids:
        got = returns_model(api.get_subscription, all_ids[0])
        check(got.id == all_ids[0], f"get_subscription id {got.id!r} != {all_ids[0]!r}")
    expect_status(404, api.get_subscription, MISSING_ID)


def check_campaigns(api_client):
    api = CampaignApi(api_client)
    all_ids = check_paging(api.list_campaigns, "campaigns", 5, min_pages=2)
    campaigns = returns_model(api.list_campaigns, page_size=1000).campaigns or []
    for campaign in campaigns:
        check(not campaign.additional_properties, f"campaign {campaign.id} has fields the SDK does not know: "
              f"{sorted(campaign.additional_properties)}")
    got = returns_model(api.get_campaign, all_ids[0])
    check(got.id == all_ids[0] and got.name, f"get_campaign {got.id!r}/{got.name!r}")
    found = returns_model(api.list_campaigns, filter="name==follow-up", order_by="name desc")
    names = [c.name for c in found.campaigns or []]
    check(names and all("follow-up" in n.lower() for n in names), f"filter name==follow-up gave {names}")
    check(names == sorted(names, key=str.lower, reverse=True), f"order_by name desc gave {names}")
    expect_status(404, api.get_campaign, MISSING_ID)
    expect_status(400, api.list_campaigns, filter="status==x")


def check_transactions(api_client, order_id):
    api = SalesApi(api_client)
    everything, _ = collect_pages(api.list_transactions, "transactions", 1000)
    paged, pages = collect_pages(api.list_transactions, "transactions", 25)
    check(len(paged) == len(everything) and pages > 1, f"paging by 25 gave {len(paged)} in {pages} pages, "
          f"one read {len(everything)}")
    for transaction in everything:
        check(not transaction.additional_properties, "a transaction has fields the SDK does not know: "
              f"{sorted(transaction.additional_properties)}")
    mine = returns_model(api.list_transactions, filter=f"order_id=={order_id}", order_by="amount desc")
    mine = mine.transactions or []
    check(mine and all(t.order_ids == [order_id] for t in mine), f"filter order_id=={order_id} gave {mine!r:.300}")
    amounts = [t.amount for t in mine]
    check(amounts == sorted(amounts, reverse=True), f"order_by amount desc gave {amounts}")
    big = returns_model(api.list_transactions, filter="amount>=100;is_successful==true", page_size=1000)
    check(all(t.amount >= 100 and t.is_successful for t in big.transactions or []), "amount/is_successful filter")
    expect_status(400, api.list_transactions, filter="payment_id==1")


# --------------------------------------------------------------------------- main


def run(base_url, token):
    global current_check
    sfx = uuid.uuid4().hex[:10]
    current_check = "auth"
    check_auth(base_url, token)
    print("ok auth (401 on bogus/missing token)")

    config = Configuration(host=base_url + "/crm", access_token=token)
    with ApiClient(config) as api_client:
        steps = [
            ("contacts", lambda: check_contacts(api_client, sfx)),
            ("companies", lambda: check_companies(api_client, sfx)),
        ]
        for name, step in steps:
            current_check = name
            step()
            print(f"ok {name}")

        current_check = "users"
        user_id = check_users(api_client)
        print("ok users")
        current_check = "fixture contact"
        contact_id = make_fixture_contact(api_client, sfx)
        paid_order = []  # the order check_orders paid, for the transactions check

        steps = [
            ("opportunities", lambda: check_opportunities(api_client, sfx, contact_id, user_id)),
            ("tags", lambda: check_tags(api_client, sfx, contact_id)),
            ("notes", lambda: check_notes(api_client, sfx, contact_id, user_id)),
            ("tasks", lambda: check_tasks(api_client, sfx, contact_id, user_id)),
            ("products", lambda: check_products(api_client, sfx)),
            ("orders", lambda: paid_order.append(check_orders(api_client, sfx, contact_id))),
            ("subscriptions", lambda: check_subscriptions(api_client, sfx, contact_id)),
            ("campaigns", lambda: check_campaigns(api_client)),
            ("transactions", lambda: check_transactions(api_client, paid_order[0])),
        ]
        for name, step in steps:
            current_check = name
            step()
            print(f"ok {name}")


def describe(error):
    if isinstance(error, ApiException):
        return f"ApiException status={error.status} reason={error.reason!r}\n  body: {error.body}"
    return f"{type(error).__name__}: {str(error)[:3000]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="simulator base URL, no path")
    parser.add_argument("--access-token", required=True, help="a valid OAuth bearer access token")
    args = parser.parse_args()
    base_url = args.base_url.rstrip("/")
    try:
        run(base_url, args.access_token)
    except CheckFailed as failure:
        print(f"FAIL {current_check}: {failure}")
        print(f"sdk roundtrip: failed after {checks_passed} checks passed")
        return 1
    except CallFailed as failure:
        print(f"FAIL {current_check}: {failure.label} raised {describe(failure.error)}")
        print(f"sdk roundtrip: failed after {checks_passed} checks passed")
        return 1
    except Exception:  # a bug in this script or an unexpected SDK error
        print(f"FAIL {current_check}: unexpected error")
        traceback.print_exc(file=sys.stdout)
        return 1
    print(f"sdk roundtrip: {checks_passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
