//! The store conformance suite: every case runs against SQLite (a temp file) and PostgreSQL (a fresh
//! database per test on the machine's server), through the `Store` trait only, except where a case
//! reads raw rows to prove what is (not) stored.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use common::{Backend, TestDb};
use serde_json::json;
use store::{
    BulkFinish, BulkKind, BulkRowError, BulkStatus, BulkStep, ClaimedCode, CodeClaim, DeliveryResult, EventQuery,
    EventStatus, ExecutionStatus, FormulaInstanceRecord, InstanceId, InstancePatch, InstanceQuery, JobState, Keyring,
    MasterKey, NewBulkJob, NewExecution, NewFormulaInstance, NewInstance, NewJob, ObjectPoll, OrganizationId,
    PendingAuthorization, PendingTake, PollCommit, PostgresStore, PutMode, RefreshDecision, RefreshFn, RefreshOutcome,
    ResourceDocument, ResourceKind, ResourceScope, ResultChunk, Secret, SecretMap, SeenRecord, SqliteStore, StepFinish,
    StepStatus, Store, StoreError, StoredEvent, TokenPair, UserId, VendorCall, ACCESS_TOKEN_KEY,
    AUTHORIZATION_CODE_TTL, BULK_NOTIFY_QUEUE, BULK_QUEUE, DEFAULT_MAX_ATTEMPTS, REFRESH_TOKEN_KEY, VENDOR_CALLS_KEPT,
};

/// Declares each case once and instantiates it for both databases.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(crate::common::Backend::Sqlite, crate::$case).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(crate::common::Backend::Postgres, crate::$case).await
                }
            )*
        }
    };
}

conformance!(
    a_new_store_is_empty_until_an_organization_exists,
    users_are_listed_read_and_deleted_within_their_organization_only,
    instances_are_counted_per_organization,
    authenticate_needs_the_right_user_and_organization_secrets,
    an_organization_cannot_see_or_touch_another_organizations_instance,
    an_instance_is_found_by_its_token,
    deleting_an_instance_revokes_its_token_at_once,
    reissuing_a_token_revokes_the_old_one,
    instances_filter_by_all_tags_and_search_text_and_page_with_a_cursor,
    secrets_are_not_stored_in_clear,
    patches_merge_configuration_and_secrets,
    a_wrong_master_key_is_a_clear_error_at_connect,
    tampered_sealed_columns_fail_to_open,
    key_rotation_keeps_everything_readable,
    concurrent_refreshes_on_one_store_refresh_once,
    concurrent_refreshes_on_two_stores_refresh_once,
    refresh_outcomes_are_stored_and_audited,
    the_vendor_account_a_grant_names_is_kept_until_another_grant_names_one,
    a_dropped_caller_does_not_lose_a_detached_refresh,
    instances_due_for_refresh_are_the_expiring_and_the_stale,
    a_failing_refresh_backs_off_so_others_are_not_starved,
    an_organization_and_its_admin_are_created_together,
    a_reauthentication_during_a_refresh_wins,
    a_write_during_a_slow_refresh_is_not_blocked,
    a_console_session_finds_its_user_until_it_expires_or_signs_out,
    a_console_session_needs_an_existing_user,
    a_session_id_is_not_stored_in_clear,
    expired_sessions_and_pending_authorizations_are_pruned,
    a_pending_authorization_is_taken_once,
    concurrent_takes_of_one_state_succeed_once,
    a_pending_authorization_of_another_session_is_refused_and_consumed,
    an_expired_pending_authorization_is_refused,
    the_pending_request_is_sealed_at_rest,
    a_pending_request_moved_to_another_row_fails_to_open,
    a_pending_authorization_survives_a_key_rotation,
    vendor_calls_keep_only_the_newest,
    deleting_an_instance_deletes_its_vendor_calls,
    a_lease_is_taken_once_among_concurrent_takers,
    a_held_lease_refuses_other_owners_and_extends_for_its_holder,
    an_expired_lease_is_taken_over,
    only_the_holder_renews_or_releases_a_lease,
    an_expired_lease_nobody_took_can_be_renewed,
    an_enqueued_job_is_claimed_with_its_payload,
    claims_take_the_oldest_due_jobs_up_to_the_limit,
    concurrent_claimers_take_every_job_exactly_once,
    only_the_claim_holder_completes_or_fails_a_job,
    an_expired_claim_moves_to_another_worker,
    a_heartbeat_keeps_a_claim,
    a_failed_job_backs_off_then_dies_when_its_attempts_run_out,
    a_job_enqueued_in_a_rolled_back_transaction_does_not_exist,
    a_job_whose_claims_keep_expiring_dies,
    expired_claims_and_failures_share_the_attempts,
    concurrent_claims_count_each_expired_claim_once,
    an_authorization_code_is_claimed_once_and_replays_name_its_holder,
    a_released_authorization_code_can_be_claimed_again,
    an_expired_authorization_code_claim_can_be_claimed_again,
    concurrent_claims_of_one_authorization_code_succeed_once,
    a_claimed_authorization_code_binds_to_an_existing_instance_of_its_organization,
    an_authorization_code_is_not_stored_in_clear,
    an_instance_has_a_poller_exactly_while_its_events_are_enabled,
    a_due_poll_is_claimed_once_and_committed_only_by_its_holder,
    a_poll_reports_each_change_once_and_deletes_from_complete_reads,
    a_backfill_reports_what_was_reported_before,
    webhook_changes_report_the_deletes_named_and_leave_the_schedule_alone,
    a_failed_delivery_waits_for_its_retry_then_fails_for_good_and_can_be_retried,
    the_event_log_filters_pages_in_order_and_prunes_only_finished_notifications,
    a_definition_is_created_read_listed_replaced_and_deleted,
    resources_are_scoped_by_kind_element_and_instance,
    an_organization_never_sees_or_writes_another_organizations_resources,
    deleting_an_instance_deletes_its_resources_and_changes_the_generation,
    concurrent_upserts_of_one_new_name_all_succeed_once_stored,
    an_unreadable_stored_document_is_reported_corrupt,
    a_bulk_step_commits_once_at_its_step_with_its_records_and_position,
    a_cancelled_bulk_job_takes_no_more_steps_and_queues_its_notification,
    a_bulk_job_is_seen_only_through_its_instance,
    an_upload_is_invisible_until_queued_and_its_file_reads_back_in_parts,
    a_bulk_job_whose_queue_row_died_reads_as_failed,
    final_bulk_jobs_are_pruned_with_their_results,
    a_formula_is_created_read_listed_replaced_and_deleted,
    formula_names_are_unique_per_organization_ignoring_ascii_case,
    an_organization_never_sees_or_writes_another_organizations_formulas,
    formulas_are_listed_in_pages,
    a_formula_instance_binds_only_a_template_of_its_organization_and_goes_with_it,
    an_execution_is_queued_once_per_cause_and_its_steps_recorded_in_order,
    an_ended_execution_takes_no_more_step_records,
);

/// A refresher that decides `decision` without calling anyone.
fn decide(decision: RefreshDecision) -> RefreshFn {
    Box::new(move |_| Box::pin(async move { decision }))
}

fn keyring() -> Keyring {
    Keyring::new(MasterKey::generate())
}

fn secrets(pairs: &[(&str, &str)]) -> SecretMap {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

fn new_instance(organization_id: OrganizationId, name: &str, tags: &[&str]) -> NewInstance {
    NewInstance {
        organization_id,
        element_key: "infusionsoftcrm".into(),
        name: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        configuration: BTreeMap::from([("infusionsoft.server".to_string(), "sandbox.infusionsoft.com".to_string())]),
        secrets: secrets(&[
            ("oauth.api.secret", "client-secret-value"),
            (ACCESS_TOKEN_KEY, "access-0"),
            (REFRESH_TOKEN_KEY, "refresh-0"),
        ]),
        access_expires_at: Some(Utc::now() + TimeDelta::hours(24)),
        vendor_account: None,
    }
}

/// A store with one organization and its id.
async fn store_with_org(db: &TestDb) -> (Arc<dyn Store>, OrganizationId) {
    let store = db.connect(keyring()).await;
    let (org, _) = store.create_organization("acme").await.unwrap();
    (store, org.id)
}

async fn a_new_store_is_empty_until_an_organization_exists(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    assert!(store.is_empty().await.unwrap());
    store.create_organization("default").await.unwrap();
    assert!(!store.is_empty().await.unwrap());
    assert!(matches!(store.create_organization("default").await, Err(StoreError::Conflict(_))));
    store.ping().await.unwrap();
}

async fn authenticate_needs_the_right_user_and_organization_secrets(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let (org_a, org_a_secret) = store.create_organization("a").await.unwrap();
    let (_, org_b_secret) = store.create_organization("b").await.unwrap();
    let (user, user_secret) = store.create_user(org_a.id, "admin@a.example", true).await.unwrap();

    let (found_user, found_org) = store.authenticate(&user_secret, &org_a_secret).await.unwrap().unwrap();
    assert_eq!((found_user.id, found_org.id), (user.id, org_a.id));
    assert!(found_user.is_admin);
    assert_eq!(found_user, user);

    let wrong = Secret::new(store::crypto::generate_secret());
    assert!(store.authenticate(&wrong, &org_a_secret).await.unwrap().is_none());
    assert!(store.authenticate(&user_secret, &wrong).await.unwrap().is_none());
    assert!(store.authenticate(&user_secret, &org_b_secret).await.unwrap().is_none(), "user of another organization");
    assert!(store.authenticate(&org_a_secret, &user_secret).await.unwrap().is_none(), "secrets swapped");

    // A user secret alone (hub calls) finds the user and their organization, and nothing else.
    let (alone_user, alone_org) = store.authenticate_user(&user_secret).await.unwrap().unwrap();
    assert_eq!((alone_user.id, alone_org.id), (user.id, org_a.id));
    assert!(store.authenticate_user(&wrong).await.unwrap().is_none());
    assert!(
        store.authenticate_user(&org_a_secret).await.unwrap().is_none(),
        "an organization secret is no user secret"
    );

    // Bootstrap secrets chosen by the operator work the same way.
    let chosen_org = Secret::new("org-from-env");
    let org_c = store.create_organization_with_secret("c", &chosen_org).await.unwrap();
    let chosen_user = Secret::new("user-from-env");
    store.create_user_with_secret(org_c.id, "root@c.example", true, &chosen_user).await.unwrap();
    assert!(store.authenticate(&chosen_user, &chosen_org).await.unwrap().is_some());
    assert!(matches!(store.create_user(org_c.id, "root@c.example", false).await, Err(StoreError::Conflict(_))));
    assert!(matches!(
        store.create_user(OrganizationId::new(9999), "x@y.example", false).await,
        Err(StoreError::NotFound)
    ));
}

async fn users_are_listed_read_and_deleted_within_their_organization_only(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let (org_a, org_a_secret) = store.create_organization("a").await.unwrap();
    let (org_b, _) = store.create_organization("b").await.unwrap();
    let (admin, _) = store.create_user(org_a.id, "admin@a.example", true).await.unwrap();
    let (member, member_secret) = store.create_user(org_a.id, "member@a.example", false).await.unwrap();
    let (outsider, _) = store.create_user(org_b.id, "other@b.example", true).await.unwrap();

    let listed = store.list_users(org_a.id, 100).await.unwrap();
    assert_eq!(listed, vec![admin.clone(), member.clone()], "oldest first, only the organization's");
    assert_eq!(store.list_users(org_a.id, 1).await.unwrap(), vec![admin.clone()]);
    assert_eq!(store.get_user(org_a.id, member.id).await.unwrap(), member);
    assert!(matches!(store.get_user(org_a.id, outsider.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_user(org_a.id, outsider.id).await, Err(StoreError::NotFound)));
    assert!(store.get_user(org_b.id, outsider.id).await.is_ok(), "untouched");

    // Deleting revokes at once, console sessions with it.
    let session = store.create_console_session(member.id, Utc::now() + TimeDelta::hours(1)).await.unwrap();
    store.delete_user(org_a.id, member.id).await.unwrap();
    assert!(store.authenticate(&member_secret, &org_a_secret).await.unwrap().is_none());
    assert!(store.authenticate_user(&member_secret).await.unwrap().is_none());
    assert!(store.find_console_session(&session, Utc::now()).await.unwrap().is_none());
    assert!(matches!(store.get_user(org_a.id, member.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_user(org_a.id, member.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_users(org_a.id, 100).await.unwrap(), vec![admin]);
}

async fn instances_are_counted_per_organization(db: Arc<TestDb>) {
    let (store, org_a) = store_with_org(&db).await;
    let (org_b, _) = store.create_organization("b").await.unwrap();
    assert_eq!(store.count_instances(org_a).await.unwrap(), 0);
    let first = store.insert_instance(new_instance(org_a, "one", &[])).await.unwrap();
    store.insert_instance(new_instance(org_a, "two", &[])).await.unwrap();
    store.insert_instance(new_instance(org_b.id, "theirs", &[])).await.unwrap();
    assert_eq!(store.count_instances(org_a).await.unwrap(), 2);
    assert_eq!(store.count_instances(org_b.id).await.unwrap(), 1);
    store.delete_instance(org_a, first.id).await.unwrap();
    assert_eq!(store.count_instances(org_a).await.unwrap(), 1);
}

async fn an_organization_cannot_see_or_touch_another_organizations_instance(db: Arc<TestDb>) {
    let (store, org_a) = store_with_org(&db).await;
    let (org_b, _) = store.create_organization("intruder").await.unwrap();
    let instance = store.insert_instance(new_instance(org_a, "a's", &["t"])).await.unwrap();

    assert!(matches!(store.get_instance(org_b.id, instance.id).await, Err(StoreError::NotFound)));
    let listed = store.list_instances(org_b.id, &InstanceQuery::default()).await.unwrap();
    assert!(listed.items.is_empty());
    let patch = InstancePatch { name: Some("stolen".into()), ..Default::default() };
    assert!(matches!(store.update_instance(org_b.id, instance.id, patch).await, Err(StoreError::NotFound)));
    assert!(matches!(store.reissue_instance_token(org_b.id, instance.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_instance(org_b.id, instance.id).await, Err(StoreError::NotFound)));

    let still = store.get_instance(org_a, instance.id).await.unwrap();
    assert_eq!(still.name, "a's");
    assert_eq!(still.token, instance.token);
}

async fn an_instance_is_found_by_its_token(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let created = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let found = store.find_instance_by_token(&created.token).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.secrets, created.secrets);
    assert_eq!(found.configuration, created.configuration);
    assert_eq!(found.created_at, created.created_at, "timestamps round-trip exactly");
    assert_eq!(found.access_expires_at, created.access_expires_at);
    let unknown = Secret::new(store::crypto::generate_secret());
    assert!(store.find_instance_by_token(&unknown).await.unwrap().is_none());
}

async fn deleting_an_instance_revokes_its_token_at_once(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let created = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    store.delete_instance(org, created.id).await.unwrap();
    assert!(store.find_instance_by_token(&created.token).await.unwrap().is_none());
    assert!(matches!(store.get_instance(org, created.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_instance(org, created.id).await, Err(StoreError::NotFound)));
    // Ids are never reused.
    let next = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    assert!(next.id > created.id);
}

async fn reissuing_a_token_revokes_the_old_one(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let created = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let new_token = store.reissue_instance_token(org, created.id).await.unwrap();
    assert_ne!(new_token, created.token);
    assert!(store.find_instance_by_token(&created.token).await.unwrap().is_none());
    let found = store.find_instance_by_token(&new_token).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.secrets, created.secrets, "secrets survive the reissue");
    let events = store.list_token_events(created.id, 10).await.unwrap();
    assert_eq!(events[0].outcome, "reissued");
}

async fn instances_filter_by_all_tags_and_search_text_and_page_with_a_cursor(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    for (name, tags) in [
        ("Alpha CRM", &["prod", "eu"][..]),
        ("Beta CRM", &["prod"][..]),
        ("Gamma_ERP", &["prod", "eu", "vip"][..]),
        ("Delta", &["test", "eu"][..]),
        ("Epsilon 100%", &["prod", "eu"][..]),
    ] {
        store.insert_instance(new_instance(org, name, tags)).await.unwrap();
    }
    let names =
        |page: &store::Page<store::InstanceRecord>| page.items.iter().map(|i| i.name.clone()).collect::<Vec<_>>();

    let query = |tags: &[&str], search: Option<&str>, size: u32, next: Option<String>| InstanceQuery {
        tags_all_of: tags.iter().map(|t| t.to_string()).collect(),
        search_text: search.map(str::to_string),
        page_size: size,
        next_page: next,
    };
    let prod_eu = store.list_instances(org, &query(&["prod", "eu"], None, 10, None)).await.unwrap();
    assert_eq!(names(&prod_eu), ["Alpha CRM", "Gamma_ERP", "Epsilon 100%"]);
    assert!(prod_eu.next_page.is_none());

    let crm = store.list_instances(org, &query(&[], Some("crm"), 10, None)).await.unwrap();
    assert_eq!(names(&crm), ["Alpha CRM", "Beta CRM"], "case-insensitive");
    let literal = store.list_instances(org, &query(&[], Some("a_e"), 10, None)).await.unwrap();
    assert_eq!(names(&literal), ["Gamma_ERP"], "`_` is literal, not a wildcard");
    let percent = store.list_instances(org, &query(&[], Some("0%"), 10, None)).await.unwrap();
    assert_eq!(names(&percent), ["Epsilon 100%"]);
    let none = store.list_instances(org, &query(&["prod", "nope"], None, 10, None)).await.unwrap();
    assert!(none.items.is_empty());

    let mut seen = Vec::new();
    let mut next = None;
    let mut pages = 0;
    loop {
        let page = store.list_instances(org, &query(&[], None, 2, next)).await.unwrap();
        pages += 1;
        seen.extend(names(&page));
        next = page.next_page;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["Alpha CRM", "Beta CRM", "Gamma_ERP", "Delta", "Epsilon 100%"]);

    let bad = query(&[], None, 2, Some("not-a-cursor".into()));
    assert!(matches!(store.list_instances(org, &bad).await, Err(StoreError::InvalidCursor)));
}

async fn secrets_are_not_stored_in_clear(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let (org, org_secret) = store.create_organization("acme").await.unwrap();
    let (_, user_secret) = store.create_user(org.id, "u@acme.example", false).await.unwrap();
    let created = store.insert_instance(new_instance(org.id, "crm", &[])).await.unwrap();
    let reissued = store.reissue_instance_token(org.id, created.id).await.unwrap();

    let mut stored = db
        .raw_texts(
            "SELECT name || tags || configuration || secrets || token_lookup || token_sealed || \
             CAST(key_version AS TEXT) FROM instances",
        )
        .await;
    stored.extend(db.raw_texts("SELECT name || secret_salt || secret_hash || secret_lookup FROM organizations").await);
    stored.extend(db.raw_texts("SELECT email || secret_salt || secret_hash || secret_lookup FROM users").await);
    stored.extend(db.raw_texts("SELECT kind || outcome || detail FROM token_events").await);
    let everything = stored.join("\n");
    assert!(everything.contains("sandbox.infusionsoft.com"), "non-secret configuration is plain JSON");
    for secret in [
        created.token.expose(),
        reissued.expose(),
        org_secret.expose(),
        user_secret.expose(),
        "client-secret-value",
        "access-0",
        "refresh-0",
    ] {
        assert!(!everything.contains(secret), "a secret is stored in clear");
    }
    // Nor can a record reach a log line with its secrets: `Debug` masks them.
    let record = store.get_instance(org.id, created.id).await.unwrap();
    let debug = format!("{record:?} {org_secret:?} {user_secret:?}");
    for secret in [reissued.expose(), org_secret.expose(), user_secret.expose(), "client-secret-value", "refresh-0"] {
        assert!(!debug.contains(secret), "a secret is Debug-printable");
    }
}

async fn patches_merge_configuration_and_secrets(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let created = store.insert_instance(new_instance(org, "crm", &["a"])).await.unwrap();
    let patch = InstancePatch {
        name: Some("renamed".into()),
        tags: Some(vec!["b".into()]),
        configuration: BTreeMap::from([
            ("filter.response.nulls".into(), Some("false".into())),
            ("infusionsoft.server".into(), None),
        ]),
        secrets: BTreeMap::from([("infusionsoft.private.key".into(), Some(Secret::new("encrypted-key")))]),
        disabled: Some(true),
        trace_logging: Some(true),
        ..Default::default()
    };
    let updated = store.update_instance(org, created.id, patch).await.unwrap();
    let read = store.get_instance(org, created.id).await.unwrap();
    for record in [&updated, &read] {
        assert_eq!(record.name, "renamed");
        assert_eq!(record.tags, ["b"]);
        assert_eq!(record.configuration, BTreeMap::from([("filter.response.nulls".into(), "false".into())]));
        assert_eq!(record.secrets.get("infusionsoft.private.key").unwrap().expose(), "encrypted-key");
        assert_eq!(record.secrets.get(REFRESH_TOKEN_KEY).unwrap().expose(), "refresh-0", "untouched keys stay");
        assert!(record.disabled && record.trace_logging && record.valid);
        assert_eq!(record.refresh_generation, 0);
    }
    // Re-authentication stores a new pair and counts as a new generation.
    let reauth = InstancePatch {
        secrets: BTreeMap::from([
            (ACCESS_TOKEN_KEY.into(), Some(Secret::new("access-r"))),
            (REFRESH_TOKEN_KEY.into(), Some(Secret::new("refresh-r"))),
        ]),
        valid: Some(true),
        ..Default::default()
    };
    let reauthed = store.update_instance(org, created.id, reauth).await.unwrap();
    assert_eq!(reauthed.refresh_generation, 1);
    assert_eq!(
        store.get_instance(org, created.id).await.unwrap().secrets.get(REFRESH_TOKEN_KEY).unwrap().expose(),
        "refresh-r"
    );
}

async fn a_wrong_master_key_is_a_clear_error_at_connect(db: Arc<TestDb>) {
    let right = MasterKey::generate();
    let store = db.connect(Keyring::new(right.clone())).await;
    store.create_organization("acme").await.unwrap();
    drop(store);

    let err = store::connect(&db.url, keyring()).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey(_)), "{err:?}");
    assert!(err.to_string().contains("master key does not match"), "{err}");
    // The right key still works afterwards.
    let again = db.connect(Keyring::new(right)).await;
    assert!(!again.is_empty().await.unwrap());
}

async fn tampered_sealed_columns_fail_to_open(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let a = store.insert_instance(new_instance(org, "a", &[])).await.unwrap();
    let b = store.insert_instance(new_instance(org, "b", &[])).await.unwrap();
    // Copy a's sealed secrets onto b: the associated data (the row id) no longer matches.
    db.raw_execute(&format!(
        "UPDATE instances SET secrets = (SELECT secrets FROM instances WHERE id = {}) WHERE id = {}",
        a.id, b.id
    ))
    .await;
    let err = store.get_instance(org, b.id).await.unwrap_err();
    assert!(matches!(err, StoreError::Crypto(store::CryptoError::Unauthentic)), "{err:?}");
    assert!(store.get_instance(org, a.id).await.is_ok());
}

async fn key_rotation_keeps_everything_readable(db: Arc<TestDb>) {
    let old = MasterKey::generate();
    let store = db.connect(Keyring::new(old.clone())).await;
    let (org, org_secret) = store.create_organization("acme").await.unwrap();
    let (_, user_secret) = store.create_user(org.id, "u@acme.example", true).await.unwrap();
    let mut created = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..250 {
        created.push(store.insert_instance(new_instance(org.id, &format!("i{i}"), &[])).await.unwrap());
    }
    eprintln!("{:?}: 250 sequential inserts took {:?}", db.backend, started.elapsed());

    let new = MasterKey::generate();
    // A keyring that cannot read the current data is refused before anything changes.
    assert!(matches!(store.rotate_master_key(Keyring::new(new.clone())).await, Err(StoreError::WrongMasterKey(_))));
    let started = std::time::Instant::now();
    let resealed = store.rotate_master_key(Keyring::with_older(new.clone(), [old.clone()])).await.unwrap();
    eprintln!("{:?}: rotating 250 instances took {:?}", db.backend, started.elapsed());
    assert_eq!(resealed, 250);

    let versions = db.raw_texts("SELECT DISTINCT CAST(key_version AS TEXT) FROM instances").await;
    assert_eq!(versions, [new.version().to_string()]);
    for instance in [&created[0], &created[249]] {
        let found = store.find_instance_by_token(&instance.token).await.unwrap().unwrap();
        assert_eq!(found.secrets, instance.secrets);
    }
    assert!(store.authenticate(&user_secret, &org_secret).await.unwrap().is_some());

    // After the rotation the new key alone opens the database, and the old one alone does not.
    let reopened = db.connect(Keyring::new(new)).await;
    assert!(reopened.authenticate(&user_secret, &org_secret).await.unwrap().is_some());
    assert_eq!(reopened.get_instance(org.id, created[7].id).await.unwrap().secrets, created[7].secrets);
    let err = store::connect(&db.url, Keyring::new(old)).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey(_)));
}

/// `tasks` refreshers, spread over `stores`, all starting from the same stored pair; each refreshes
/// only if the pair it sees under the lock is still the one it started with (as the token lifecycle
/// does). Returns how many times the mock vendor was called.
async fn refresh_storm(stores: Vec<Arc<dyn Store>>, org: OrganizationId, instance: InstanceId, tasks: usize) -> usize {
    let vendor_calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = Arc::clone(&stores[task % stores.len()]);
        let (vendor_calls, barrier) = (Arc::clone(&vendor_calls), Arc::clone(&barrier));
        handles.push(tokio::spawn(async move {
            let started_with = store.get_instance(org, instance).await.unwrap().secrets.get(REFRESH_TOKEN_KEY).cloned();
            barrier.wait().await;
            let refresher: RefreshFn = Box::new(move |current| {
                Box::pin(async move {
                    let seen = current.pair.map(|p| p.refresh_token);
                    if seen != started_with {
                        return RefreshDecision::Unchanged;
                    }
                    let n = vendor_calls.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(Duration::from_millis(20)).await; // the vendor round trip
                    RefreshDecision::Refreshed(TokenPair {
                        access_token: Secret::new(format!("access-{n}")),
                        refresh_token: Secret::new(format!("refresh-{n}")),
                        access_expires_at: Some(Utc::now() + TimeDelta::hours(24)),
                        vendor_account: None,
                    })
                })
            });
            store.refresh_tokens(instance, refresher).await.unwrap().outcome
        }));
    }
    let mut refreshed = 0;
    for handle in handles {
        if handle.await.unwrap() == RefreshOutcome::Refreshed {
            refreshed += 1;
        }
    }
    assert_eq!(refreshed, 1, "exactly one section reports a refresh");
    vendor_calls.load(Ordering::SeqCst)
}

async fn concurrent_refreshes_on_one_store_refresh_once(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let started = std::time::Instant::now();
    let calls = refresh_storm(vec![Arc::clone(&store)], org, instance.id, 50).await;
    eprintln!("{:?}: 50 concurrent refreshes took {:?}", db.backend, started.elapsed());
    assert_eq!(calls, 1);
    let after = store.get_instance(org, instance.id).await.unwrap();
    assert_eq!(after.refresh_generation, 1);
    assert_eq!(after.secrets.get(REFRESH_TOKEN_KEY).unwrap().expose(), "refresh-1");
    assert!(store.find_instance_by_token(&instance.token).await.unwrap().is_some());
}

async fn concurrent_refreshes_on_two_stores_refresh_once(db: Arc<TestDb>) {
    let ring = keyring();
    let first = db.connect(ring.clone()).await;
    let second = db.connect(ring).await;
    let (org, _) = first.create_organization("acme").await.unwrap();
    let instance = first.insert_instance(new_instance(org.id, "crm", &[])).await.unwrap();
    let calls = refresh_storm(vec![first, Arc::clone(&second)], org.id, instance.id, 50).await;
    assert_eq!(calls, 1);
    assert_eq!(second.get_instance(org.id, instance.id).await.unwrap().refresh_generation, 1);
}

async fn refresh_outcomes_are_stored_and_audited(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();

    let failed = store
        .refresh_tokens(instance.id, decide(RefreshDecision::Failed { detail: "vendor 503".into() }))
        .await
        .unwrap();
    assert_eq!(failed.outcome, RefreshOutcome::Failed);
    let read = store.get_instance(org, instance.id).await.unwrap();
    assert!(read.valid, "a transient failure leaves the instance valid");
    assert_eq!(read.secrets, instance.secrets);

    let expires = Utc::now() + TimeDelta::hours(1);
    let pair = TokenPair {
        access_token: Secret::new("access-new"),
        refresh_token: Secret::new("refresh-new"),
        access_expires_at: Some(expires),
        vendor_account: None,
    };
    let refreshed = store.refresh_tokens(instance.id, decide(RefreshDecision::Refreshed(pair))).await.unwrap();
    assert_eq!(refreshed.outcome, RefreshOutcome::Refreshed);
    assert_eq!(refreshed.current.refresh_generation, 1);
    let read = store.get_instance(org, instance.id).await.unwrap();
    assert_eq!(read.secrets.get(ACCESS_TOKEN_KEY).unwrap().expose(), "access-new");
    assert_eq!(read.secrets.get("oauth.api.secret").unwrap().expose(), "client-secret-value");
    assert_eq!(read.access_expires_at.map(|t| t.timestamp_micros()), Some(expires.timestamp_micros()));

    let invalid = store
        .refresh_tokens(instance.id, decide(RefreshDecision::Invalid { detail: "invalid_grant".into() }))
        .await
        .unwrap();
    assert_eq!(invalid.outcome, RefreshOutcome::Invalid);
    assert!(!store.get_instance(org, instance.id).await.unwrap().valid);

    let unchanged = store.refresh_tokens(instance.id, decide(RefreshDecision::Unchanged)).await.unwrap();
    assert_eq!(unchanged.outcome, RefreshOutcome::Unchanged);

    let outcomes: Vec<_> =
        store.list_token_events(instance.id, 10).await.unwrap().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["invalid_grant", "refreshed", "failed"], "newest first, none for unchanged");
    store.record_token_event(instance.id, "refresh", "scheduled", "proactive").await.unwrap();
    assert_eq!(store.list_token_events(instance.id, 1).await.unwrap()[0].detail, "proactive");
    assert!(matches!(
        store.refresh_tokens(InstanceId::new(987_654), decide(RefreshDecision::Unchanged)).await,
        Err(StoreError::NotFound)
    ));
}

async fn the_vendor_account_a_grant_names_is_kept_until_another_grant_names_one(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let unnamed = store.insert_instance(new_instance(org, "unnamed", &[])).await.unwrap();
    assert_eq!(store.get_instance(org, unnamed.id).await.unwrap().vendor_account, None);
    let mut new = new_instance(org, "named", &[]);
    new.vendor_account = Some("ab123.infusionsoft.com".into());
    let named = store.insert_instance(new).await.unwrap();
    assert_eq!(named.vendor_account.as_deref(), Some("ab123.infusionsoft.com"));
    let read = |id| {
        let store = Arc::clone(&store);
        async move { store.get_instance(org, id).await.unwrap().vendor_account }
    };
    assert_eq!(read(named.id).await.as_deref(), Some("ab123.infusionsoft.com"));
    assert_eq!(store.find_instance_by_token(&named.token).await.unwrap().unwrap().vendor_account, read(named.id).await);

    let pair = |n: u32, account: Option<&str>| TokenPair {
        access_token: Secret::new(format!("access-{n}")),
        refresh_token: Secret::new(format!("refresh-{n}")),
        access_expires_at: None,
        vendor_account: account.map(str::to_string),
    };
    // A grant that names no account keeps the stored one; one that names another replaces it.
    let refreshed = store.refresh_tokens(named.id, decide(RefreshDecision::Refreshed(pair(1, None)))).await.unwrap();
    assert_eq!(refreshed.current.pair.unwrap().vendor_account.as_deref(), Some("ab123.infusionsoft.com"));
    assert_eq!(read(named.id).await.as_deref(), Some("ab123.infusionsoft.com"));
    let moved = pair(2, Some("zt119.infusionsoft.com"));
    store.refresh_tokens(named.id, decide(RefreshDecision::Refreshed(moved))).await.unwrap();
    assert_eq!(read(named.id).await.as_deref(), Some("zt119.infusionsoft.com"));
    // Neither a failed refresh nor a patch without a grant changes it.
    let failed = decide(RefreshDecision::Failed { detail: "vendor 503".into() });
    store.refresh_tokens(named.id, failed).await.unwrap();
    let renamed = InstancePatch { name: Some("renamed".into()), ..InstancePatch::default() };
    store.update_instance(org, named.id, renamed).await.unwrap();
    assert_eq!(read(named.id).await.as_deref(), Some("zt119.infusionsoft.com"));
    // A re-authentication's grant names it for an instance that had none.
    let reauthenticated =
        InstancePatch { vendor_account: Some("ps359.infusionsoft.com".into()), ..InstancePatch::default() };
    store.update_instance(org, unnamed.id, reauthenticated).await.unwrap();
    assert_eq!(read(unnamed.id).await.as_deref(), Some("ps359.infusionsoft.com"));
}

async fn instances_due_for_refresh_are_the_expiring_and_the_stale(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let now = Utc::now();
    let mut soon = new_instance(org, "soon", &[]);
    soon.access_expires_at = Some(now + TimeDelta::minutes(2));
    let soon = store.insert_instance(soon).await.unwrap();
    let later = store.insert_instance(new_instance(org, "later", &[])).await.unwrap();
    let mut disabled = new_instance(org, "disabled", &[]);
    disabled.access_expires_at = Some(now + TimeDelta::minutes(1));
    let disabled = store.insert_instance(disabled).await.unwrap();
    let patch = InstancePatch { disabled: Some(true), ..Default::default() };
    store.update_instance(org, disabled.id, patch).await.unwrap();

    let long_ago = now - TimeDelta::days(30);
    let due = store.instances_due_for_refresh(now + TimeDelta::minutes(5), long_ago, now, 10).await.unwrap();
    assert_eq!(due, [soon.id]);
    // Everything refreshed before "tomorrow" is stale by then.
    let stale = store.instances_due_for_refresh(now, now + TimeDelta::days(1), now, 10).await.unwrap();
    assert_eq!(stale.len(), 2);
    assert!(stale.contains(&soon.id) && stale.contains(&later.id));
}

async fn a_reauthentication_during_a_refresh_wins(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "reauth", &[])).await.unwrap();
    let (entered, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let hooks = std::sync::Mutex::new(Some((entered, release_rx)));
    // The vendor refuses the old refresh token while the user re-authenticates the instance.
    let refused: RefreshFn = Box::new(move |_| {
        let hooks = hooks.lock().unwrap().take();
        Box::pin(async move {
            if let Some((entered, release_rx)) = hooks {
                let _ = entered.send(());
                let _ = release_rx.await;
            }
            RefreshDecision::Invalid { detail: "invalid_grant".into() }
        })
    });
    let refreshing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.refresh_tokens(instance.id, refused).await })
    };
    entered_rx.await.unwrap();
    let reauth = InstancePatch {
        secrets: BTreeMap::from([
            (ACCESS_TOKEN_KEY.to_string(), Some(Secret::new("access-reauth"))),
            (REFRESH_TOKEN_KEY.to_string(), Some(Secret::new("refresh-reauth"))),
        ]),
        valid: Some(true),
        ..Default::default()
    };
    // On PostgreSQL the re-authentication waits for the row lock, so it runs after the refresh
    // (and then wins by being last); on SQLite it commits during the vendor call.
    let patched = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.update_instance(org, instance.id, reauth).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = release.send(());
    refreshing.await.unwrap().unwrap();
    patched.await.unwrap().unwrap();
    let after = store.get_instance(org, instance.id).await.unwrap();
    assert!(after.valid, "the refusal of the old token does not invalidate the re-authenticated instance");
    assert_eq!(after.secrets.get(REFRESH_TOKEN_KEY).unwrap().expose(), "refresh-reauth");
}

async fn an_organization_and_its_admin_are_created_together(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let (org_secret, user_secret) = (Secret::new("org-secret-value"), Secret::new("user-secret-value"));
    let (organization, user) =
        store.create_organization_with_admin("default", &org_secret, "admin", &user_secret).await.unwrap();
    assert_eq!((user.organization_id, user.is_admin), (organization.id, true));
    let (found_user, found_org) = store.authenticate(&user_secret, &org_secret).await.unwrap().unwrap();
    assert_eq!((found_user.id, found_org.id), (user.id, organization.id));
    // A second bootstrap (another node) conflicts and creates nothing.
    let other_user = Secret::new("other-user-secret");
    let again = store.create_organization_with_admin("default", &Secret::new("x"), "admin", &other_user).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(store.authenticate_user(&other_user).await.unwrap().is_none(), "no user without its organization");
}

async fn a_failing_refresh_backs_off_so_others_are_not_starved(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let now = Utc::now();
    let mut failing = new_instance(org, "failing", &[]);
    failing.access_expires_at = Some(now + TimeDelta::minutes(1));
    let failing = store.insert_instance(failing).await.unwrap();
    let mut next = new_instance(org, "next", &[]);
    next.access_expires_at = Some(now + TimeDelta::minutes(2));
    let next = store.insert_instance(next).await.unwrap();
    let due = |limit| {
        store.instances_due_for_refresh(now + TimeDelta::minutes(5), now - TimeDelta::days(30), Utc::now(), limit)
    };
    assert_eq!(due(1).await.unwrap(), [failing.id], "soonest expiry first");

    let failed = store.refresh_tokens(failing.id, decide(RefreshDecision::Failed { detail: "HTTP 503".into() })).await;
    assert_eq!(failed.unwrap().outcome, RefreshOutcome::Failed);
    assert_eq!(due(1).await.unwrap(), [next.id], "the failing instance waits out its backoff");
    let later = store
        .instances_due_for_refresh(now + TimeDelta::minutes(5), now - TimeDelta::days(30), now + TimeDelta::hours(1), 1)
        .await
        .unwrap();
    assert_eq!(later, [failing.id], "and is due again once its backoff has passed");
    assert!(store.get_instance(org, failing.id).await.unwrap().valid, "a transient failure keeps it valid");

    let pair = TokenPair {
        access_token: Secret::new("access-1"),
        refresh_token: Secret::new("refresh-1"),
        access_expires_at: Some(now + TimeDelta::minutes(1)),
        vendor_account: None,
    };
    // A refresh on demand (a hub call) is not held back by the backoff, and clears it.
    let refreshed = store.refresh_tokens(failing.id, decide(RefreshDecision::Refreshed(pair))).await.unwrap();
    assert_eq!(refreshed.outcome, RefreshOutcome::Refreshed);
    assert_eq!(due(1).await.unwrap(), [failing.id]);
}

async fn a_write_during_a_slow_refresh_is_not_blocked(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "slow", &[])).await.unwrap();
    let (entered, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let hooks = std::sync::Mutex::new(Some((entered, release_rx)));
    // The "vendor" answers only once the other write below is done: if that write waited for the
    // refresh (SQLite's write lock held across the vendor call), the two would wait for each other.
    let slow: RefreshFn = Box::new(move |_| {
        let hooks = hooks.lock().unwrap().take();
        Box::pin(async move {
            if let Some((entered, release_rx)) = hooks {
                let _ = entered.send(());
                let _ = release_rx.await;
            }
            RefreshDecision::Failed { detail: "timeout".into() }
        })
    });
    let refreshing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.refresh_tokens(instance.id, slow).await })
    };
    entered_rx.await.unwrap();
    let other = tokio::time::timeout(Duration::from_secs(20), store.insert_instance(new_instance(org, "other", &[])))
        .await
        .expect("another instance's write waited for a vendor call in progress");
    other.unwrap();
    let _ = release.send(());
    refreshing.await.unwrap().unwrap();
}

async fn a_dropped_caller_does_not_lose_a_detached_refresh(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let refresher: RefreshFn = Box::new(|_| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await; // the vendor has rotated the pair meanwhile
            RefreshDecision::Refreshed(TokenPair {
                access_token: Secret::new("access-late"),
                refresh_token: Secret::new("refresh-late"),
                access_expires_at: None,
                vendor_account: None,
            })
        })
    });
    let call = store::refresh_tokens_detached(Arc::clone(&store), instance.id, refresher);
    assert!(tokio::time::timeout(Duration::from_millis(10), call).await.is_err(), "the caller gave up");
    let mut stored = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let record = store.get_instance(org, instance.id).await.unwrap();
        if record.refresh_generation == 1 {
            stored = record.secrets.get(REFRESH_TOKEN_KEY).cloned();
            break;
        }
    }
    assert_eq!(stored, Some(Secret::new("refresh-late")));
}

/// Now at the stores' precision (microseconds), so values read back compare equal.
fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn fresh_secret() -> Secret {
    Secret::new(store::crypto::generate_secret())
}

/// A store with an organization and one of its users: (store, organization id, user id).
async fn store_with_user(db: &TestDb) -> (Arc<dyn Store>, OrganizationId, UserId) {
    let (store, org) = store_with_org(db).await;
    let (user, _) = store.create_user(org, "console@acme.example", true).await.unwrap();
    (store, org, user.id)
}

/// The Authenticate form as the console would keep it, holding a client secret.
fn pending(organization_id: OrganizationId, user_id: UserId, expires_at: DateTime<Utc>) -> PendingAuthorization {
    PendingAuthorization {
        organization_id,
        user_id,
        request: Secret::new(r#"{"name":"crm","oauth.api.secret":"pending-client-secret"}"#),
        expires_at,
    }
}

async fn count(db: &TestDb, table: &str) -> usize {
    let counted = db.raw_texts(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")).await;
    counted[0].parse().unwrap()
}

async fn a_console_session_finds_its_user_until_it_expires_or_signs_out(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let now = now_micros();
    let ends = now + TimeDelta::hours(8);
    let session = store.create_console_session(user, ends).await.unwrap();
    let other = store.create_console_session(user, ends).await.unwrap();
    assert_ne!(session.expose(), other.expose(), "every session gets its own id");
    assert!(session.expose().len() >= 43, "256 random bits");

    let (found_user, found_org) = store.find_console_session(&session, now).await.unwrap().unwrap();
    assert_eq!((found_user.id, found_org.id), (user, org));
    assert_eq!(found_user.email, "console@acme.example");
    assert_eq!(found_org.name, "acme");
    assert!(store.find_console_session(&session, ends - TimeDelta::microseconds(1)).await.unwrap().is_some());
    assert!(store.find_console_session(&session, ends).await.unwrap().is_none(), "over at its expiry");
    assert!(store.find_console_session(&session, ends + TimeDelta::days(1)).await.unwrap().is_none());
    assert!(store.find_console_session(&fresh_secret(), now).await.unwrap().is_none(), "unknown session");

    store.delete_console_session(&session).await.unwrap();
    assert!(store.find_console_session(&session, now).await.unwrap().is_none(), "signed out");
    assert!(store.find_console_session(&other, now).await.unwrap().is_some(), "other sessions stay");
    store.delete_console_session(&session).await.unwrap(); // signing out twice is no error
}

async fn a_console_session_needs_an_existing_user(db: Arc<TestDb>) {
    let (store, _, user) = store_with_user(&db).await;
    let ends = now_micros() + TimeDelta::hours(1);
    let err = store.create_console_session(UserId::new(user.get() + 1000), ends).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(count(&db, "console_sessions").await, 0);
    // Deleting the user ends their sessions (the foreign key cascades).
    let session = store.create_console_session(user, ends).await.unwrap();
    db.raw_execute(&format!("DELETE FROM users WHERE id = {user}")).await;
    assert!(store.find_console_session(&session, now_micros()).await.unwrap().is_none());
    assert_eq!(count(&db, "console_sessions").await, 0);
}

async fn a_session_id_is_not_stored_in_clear(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let ends = now_micros() + TimeDelta::hours(1);
    let session = store.create_console_session(user, ends).await.unwrap();
    let state = fresh_secret();
    store.save_pending_authorization(&state, &session, &pending(org, user, ends)).await.unwrap();

    let mut stored = db.raw_texts("SELECT session_lookup || CAST(user_id AS TEXT) FROM console_sessions").await;
    stored.extend(
        db.raw_texts("SELECT state_lookup || session_lookup || request_sealed FROM pending_authorizations").await,
    );
    assert_eq!(stored.len(), 2);
    let everything = stored.join("\n");
    for secret in [session.expose(), state.expose()] {
        assert!(!everything.contains(secret), "a session id or state is stored in clear");
    }
    // What is stored is the keyed hash: the same for the same session, in both tables.
    let lookups = db.raw_texts("SELECT session_lookup FROM console_sessions").await;
    assert_eq!(db.raw_texts("SELECT session_lookup FROM pending_authorizations").await, lookups);
    assert_eq!(lookups[0].len(), 43, "an HMAC-SHA256, base64url");
}

async fn expired_sessions_and_pending_authorizations_are_pruned(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let past = now_micros() - TimeDelta::minutes(1);
    let future = now_micros() + TimeDelta::hours(1);
    let stale = store.create_console_session(user, past).await.unwrap();
    let live = store.create_console_session(user, future).await.unwrap();
    assert_eq!(count(&db, "console_sessions").await, 1, "the expired session was pruned");
    assert!(store.find_console_session(&live, now_micros()).await.unwrap().is_some());
    assert!(store.find_console_session(&stale, past - TimeDelta::seconds(1)).await.unwrap().is_none());

    let stale_state = fresh_secret();
    store.save_pending_authorization(&stale_state, &live, &pending(org, user, past)).await.unwrap();
    let live_state = fresh_secret();
    store.save_pending_authorization(&live_state, &live, &pending(org, user, future)).await.unwrap();
    assert_eq!(count(&db, "pending_authorizations").await, 1, "the expired authorization was pruned");
    let early = past - TimeDelta::seconds(1);
    assert_eq!(store.take_pending_authorization(&stale_state, &live, early).await.unwrap(), PendingTake::Unknown);
    assert!(matches!(
        store.take_pending_authorization(&live_state, &live, now_micros()).await.unwrap(),
        PendingTake::Found(_)
    ));
}

async fn a_pending_authorization_is_taken_once(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let now = now_micros();
    let session = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let (state, other_state) = (fresh_secret(), fresh_secret());
    let saved = pending(org, user, now + TimeDelta::minutes(10));
    store.save_pending_authorization(&state, &session, &saved).await.unwrap();
    store.save_pending_authorization(&other_state, &session, &pending(org, user, saved.expires_at)).await.unwrap();
    let err = store.save_pending_authorization(&state, &session, &saved).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a state is saved once: {err:?}");

    assert_eq!(store.take_pending_authorization(&state, &session, now).await.unwrap(), PendingTake::Found(saved));
    assert_eq!(store.take_pending_authorization(&state, &session, now).await.unwrap(), PendingTake::Unknown);
    assert_eq!(store.take_pending_authorization(&fresh_secret(), &session, now).await.unwrap(), PendingTake::Unknown);
    assert!(
        matches!(store.take_pending_authorization(&other_state, &session, now).await.unwrap(), PendingTake::Found(_)),
        "taking one state leaves the others"
    );
}

async fn concurrent_takes_of_one_state_succeed_once(db: Arc<TestDb>) {
    let ring = keyring();
    let first = db.connect(ring.clone()).await;
    let second = db.connect(ring).await;
    let (org, _) = first.create_organization("acme").await.unwrap();
    let (user, _) = first.create_user(org.id, "console@acme.example", true).await.unwrap();
    let now = now_micros();
    let session = first.create_console_session(user.id, now + TimeDelta::hours(1)).await.unwrap();
    for round in 0..5 {
        let state = fresh_secret();
        first
            .save_pending_authorization(&state, &session, &pending(org.id, user.id, now + TimeDelta::minutes(10)))
            .await
            .unwrap();
        let tasks = 8;
        let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
        let mut handles = Vec::new();
        for task in 0..tasks {
            // Half the takers on another pool: two nodes receiving the same callback.
            let store = Arc::clone(if task % 2 == 0 { &first } else { &second });
            let (state, session, barrier) = (state.clone(), session.clone(), Arc::clone(&barrier));
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                store.take_pending_authorization(&state, &session, now).await.unwrap()
            }));
        }
        let mut found = 0;
        for handle in handles {
            match handle.await.unwrap() {
                PendingTake::Found(_) => found += 1,
                PendingTake::Unknown => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(found, 1, "round {round}: exactly one take finds the state");
    }
    assert_eq!(count(&db, "pending_authorizations").await, 0);
}

async fn a_pending_authorization_of_another_session_is_refused_and_consumed(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let now = now_micros();
    let victim = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let attacker = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let state = fresh_secret();
    store.save_pending_authorization(&state, &victim, &pending(org, user, now + TimeDelta::minutes(10))).await.unwrap();

    assert_eq!(store.take_pending_authorization(&state, &attacker, now).await.unwrap(), PendingTake::OtherSession);
    // Refused and removed: the rightful session cannot replay it either (a leaked state is burnt).
    assert_eq!(store.take_pending_authorization(&state, &victim, now).await.unwrap(), PendingTake::Unknown);
}

async fn an_expired_pending_authorization_is_refused(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let now = now_micros();
    let session = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let expires_at = now + TimeDelta::minutes(10);
    let (state, later_state) = (fresh_secret(), fresh_secret());
    store.save_pending_authorization(&state, &session, &pending(org, user, expires_at)).await.unwrap();
    store.save_pending_authorization(&later_state, &session, &pending(org, user, expires_at)).await.unwrap();

    assert_eq!(store.take_pending_authorization(&state, &session, expires_at).await.unwrap(), PendingTake::Expired);
    assert_eq!(store.take_pending_authorization(&state, &session, now).await.unwrap(), PendingTake::Unknown, "removed");
    let just_before = expires_at - TimeDelta::microseconds(1);
    assert!(matches!(
        store.take_pending_authorization(&later_state, &session, just_before).await.unwrap(),
        PendingTake::Found(_)
    ));
}

async fn the_pending_request_is_sealed_at_rest(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let now = now_micros();
    let session = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let state = fresh_secret();
    let saved = pending(org, user, now + TimeDelta::minutes(10));
    store.save_pending_authorization(&state, &session, &saved).await.unwrap();

    let stored = db
        .raw_texts(
            "SELECT state_lookup || session_lookup || request_sealed || CAST(key_version AS TEXT) \
             FROM pending_authorizations",
        )
        .await
        .join("\n");
    assert!(!stored.is_empty());
    for clear in ["pending-client-secret", "oauth.api.secret"] {
        assert!(!stored.contains(clear), "the request is stored in clear");
    }
    // Nor can it reach a log line: `Debug` masks the request.
    assert!(!format!("{saved:?}").contains("pending-client-secret"));
    let PendingTake::Found(taken) = store.take_pending_authorization(&state, &session, now).await.unwrap() else {
        panic!("the saved authorization is found")
    };
    assert_eq!(taken.request.expose(), saved.request.expose());
}

async fn a_pending_request_moved_to_another_row_fails_to_open(db: Arc<TestDb>) {
    let (store, org, user) = store_with_user(&db).await;
    let (other_org, _) = store.create_organization("other").await.unwrap();
    let now = now_micros();
    let session = store.create_console_session(user, now + TimeDelta::hours(1)).await.unwrap();
    let (a, b, c) = (fresh_secret(), fresh_secret(), fresh_secret());
    for state in [&a, &b, &c] {
        store
            .save_pending_authorization(state, &session, &pending(org, user, now + TimeDelta::minutes(10)))
            .await
            .unwrap();
    }
    let [lookup_a, lookup_b, lookup_c] = <[String; 3]>::try_from(
        db.raw_texts("SELECT state_lookup FROM pending_authorizations ORDER BY created_at, state_lookup").await,
    )
    .unwrap();
    // Which row is which does not matter: copy one row's sealed request onto another.
    db.raw_execute(&format!(
        "UPDATE pending_authorizations SET request_sealed = \
         (SELECT request_sealed FROM pending_authorizations WHERE state_lookup = '{lookup_a}') \
         WHERE state_lookup = '{lookup_b}'"
    ))
    .await;
    // And point a third row at another organization.
    db.raw_execute(&format!(
        "UPDATE pending_authorizations SET organization_id = {} WHERE state_lookup = '{lookup_c}'",
        other_org.id
    ))
    .await;
    let mut unauthentic = 0;
    for state in [&a, &b, &c] {
        match store.take_pending_authorization(state, &session, now).await {
            Err(StoreError::Crypto(store::CryptoError::Unauthentic)) => unauthentic += 1,
            Ok(PendingTake::Found(found)) => assert_eq!(found.organization_id, org),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(unauthentic, 2, "the moved request and the re-pointed row fail to open");
}

async fn a_pending_authorization_survives_a_key_rotation(db: Arc<TestDb>) {
    let old = MasterKey::generate();
    let store = db.connect(Keyring::new(old.clone())).await;
    let (org, _) = store.create_organization("acme").await.unwrap();
    let (user, _) = store.create_user(org.id, "console@acme.example", true).await.unwrap();
    let now = now_micros();
    let session = store.create_console_session(user.id, now + TimeDelta::hours(1)).await.unwrap();
    let state = fresh_secret();
    let saved = pending(org.id, user.id, now + TimeDelta::minutes(10));
    store.save_pending_authorization(&state, &session, &saved).await.unwrap();

    let new = MasterKey::generate();
    store.rotate_master_key(Keyring::with_older(new.clone(), [old.clone()])).await.unwrap();
    assert!(store.find_console_session(&session, now).await.unwrap().is_some(), "the lookup key is unchanged");
    let after = fresh_secret();
    store.save_pending_authorization(&after, &session, &saved).await.unwrap();
    let versions =
        db.raw_texts("SELECT CAST(key_version AS TEXT) FROM pending_authorizations ORDER BY created_at").await;
    assert_eq!(versions, [old.version().to_string(), new.version().to_string()], "sealed under the key of its time");
    assert_eq!(
        store.take_pending_authorization(&state, &session, now).await.unwrap(),
        PendingTake::Found(saved.clone())
    );
    assert_eq!(store.take_pending_authorization(&after, &session, now).await.unwrap(), PendingTake::Found(saved));
}

async fn vendor_calls_keep_only_the_newest(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let traced = store.insert_instance(new_instance(org, "traced", &[])).await.unwrap();
    let other = store.insert_instance(new_instance(org, "other", &[])).await.unwrap();
    let base = now_micros();
    let call = |i: u32| VendorCall {
        at: base + TimeDelta::milliseconds(i64::from(i)),
        method: if i.is_multiple_of(2) { "GET".into() } else { "POST".into() },
        path: format!("/crm/rest/v1/contacts?page={i}"),
        status: if i % 10 == 9 { 0 } else { 200 },
        duration_ms: i * 7,
    };
    store.record_vendor_call(other.id, &call(1000)).await.unwrap();
    let total = VENDOR_CALLS_KEPT + 5;
    for i in 0..total {
        store.record_vendor_call(traced.id, &call(i)).await.unwrap();
    }
    store.record_vendor_call(other.id, &call(1001)).await.unwrap();

    let kept = store.list_vendor_calls(traced.id, 1000).await.unwrap();
    assert_eq!(kept.len(), VENDOR_CALLS_KEPT as usize);
    assert_eq!(kept[0], call(total - 1), "newest first, read back as written");
    assert_eq!(kept.last().unwrap(), &call(total - VENDOR_CALLS_KEPT));
    assert!(kept.windows(2).all(|w| w[0].at > w[1].at));
    assert!(kept.iter().any(|c| c.status == 0), "no answer is status 0");
    let newest: Vec<_> = store.list_vendor_calls(traced.id, 3).await.unwrap().into_iter().map(|c| c.path).collect();
    assert_eq!(newest, [call(total - 1).path, call(total - 2).path, call(total - 3).path]);
    // The older ones are deleted, not merely hidden by the limit.
    let stored = db.raw_texts(&format!("SELECT path FROM vendor_calls WHERE instance_id = {}", traced.id)).await;
    assert_eq!(stored.len(), VENDOR_CALLS_KEPT as usize);
    // Another instance's log is its own.
    assert_eq!(store.list_vendor_calls(other.id, 1000).await.unwrap(), [call(1001), call(1000)]);
}

async fn deleting_an_instance_deletes_its_vendor_calls(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let kept = store.insert_instance(new_instance(org, "kept", &[])).await.unwrap();
    let call = VendorCall {
        at: now_micros(),
        method: "GET".into(),
        path: "/crm/rest/v1/contacts".into(),
        status: 200,
        duration_ms: 12,
    };
    store.record_vendor_call(instance.id, &call).await.unwrap();
    store.record_vendor_call(kept.id, &call).await.unwrap();
    store.delete_instance(org, instance.id).await.unwrap();
    assert!(store.list_vendor_calls(instance.id, 100).await.unwrap().is_empty());
    assert_eq!(count(&db, "vendor_calls").await, 1, "only the remaining instance's call");
    assert_eq!(store.list_vendor_calls(kept.id, 100).await.unwrap(), std::slice::from_ref(&call));
    let err = store.record_vendor_call(instance.id, &call).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Leases
// ---------------------------------------------------------------------------------------------

/// Long enough never to expire during a test.
const HELD: Duration = Duration::from_secs(600);
/// Short enough to wait out: a lease or claim of this TTL is expired after [`wait_out_short_ttl`].
const SHORT: Duration = Duration::from_millis(200);

/// Sleeps well past [`SHORT`], so anything leased for it has expired by the database's clock.
async fn wait_out_short_ttl() {
    tokio::time::sleep(SHORT * 3).await;
}

/// Two stores (two pools) on one database, as two nodes would have.
async fn two_nodes(db: &TestDb) -> [Arc<dyn Store>; 2] {
    let ring = keyring();
    [db.connect(ring.clone()).await, db.connect(ring).await]
}

async fn a_lease_is_taken_once_among_concurrent_takers(db: Arc<TestDb>) {
    const TAKERS: usize = 8;
    let nodes = two_nodes(&db).await;
    // Round 0 races to insert the lease row; later rounds race to take it over after a release.
    for round in 0..5 {
        let barrier = Arc::new(tokio::sync::Barrier::new(TAKERS));
        let mut takers = Vec::new();
        for taker in 0..TAKERS {
            let store = Arc::clone(&nodes[taker % nodes.len()]);
            let barrier = Arc::clone(&barrier);
            takers.push(tokio::spawn(async move {
                let owner = format!("taker-{round}-{taker}");
                barrier.wait().await;
                let taken = store.try_lease("refresher", "default", &owner, HELD).await.unwrap();
                taken.then_some(owner)
            }));
        }
        let mut winners = Vec::new();
        for taker in takers {
            winners.extend(taker.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one taker holds the lease: {winners:?}");
        nodes[0].release_lease("refresher", "default", &winners[0]).await.unwrap();
    }
}

async fn a_held_lease_refuses_other_owners_and_extends_for_its_holder(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    assert!(store.try_lease("refresher", "default", "node-a", HELD).await.unwrap());
    assert!(!store.try_lease("refresher", "default", "node-b", HELD).await.unwrap());
    assert!(store.try_lease("refresher", "default", "node-a", HELD).await.unwrap(), "the holder takes it again");
    assert!(!store.try_lease("refresher", "default", "node-b", HELD).await.unwrap());
    // Another key, or the same key of another kind, is another lease.
    assert!(store.try_lease("refresher", "eu", "node-b", HELD).await.unwrap());
    assert!(store.try_lease("sweeper", "default", "node-b", HELD).await.unwrap());
}

async fn an_expired_lease_is_taken_over(db: Arc<TestDb>) {
    let [first, second] = two_nodes(&db).await;
    assert!(first.try_lease("refresher", "default", "node-a", SHORT).await.unwrap());
    wait_out_short_ttl().await;
    assert!(second.try_lease("refresher", "default", "node-b", HELD).await.unwrap(), "node-a's lease expired");
    // node-a, back from a pause, has lost it: it can neither renew nor release nor retake it.
    assert!(!first.renew_lease("refresher", "default", "node-a", HELD).await.unwrap());
    first.release_lease("refresher", "default", "node-a").await.unwrap();
    assert!(!first.try_lease("refresher", "default", "node-a", HELD).await.unwrap());
    assert!(second.renew_lease("refresher", "default", "node-b", HELD).await.unwrap());
}

async fn only_the_holder_renews_or_releases_a_lease(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    assert!(!store.renew_lease("refresher", "default", "node-a", HELD).await.unwrap(), "nothing to renew");
    assert!(store.try_lease("refresher", "default", "node-a", HELD).await.unwrap());

    assert!(!store.renew_lease("refresher", "default", "node-b", HELD).await.unwrap());
    store.release_lease("refresher", "default", "node-b").await.unwrap();
    assert!(!store.try_lease("refresher", "default", "node-b", HELD).await.unwrap(), "node-b released nothing");

    assert!(store.renew_lease("refresher", "default", "node-a", HELD).await.unwrap());
    store.release_lease("refresher", "default", "node-a").await.unwrap();
    assert!(!store.renew_lease("refresher", "default", "node-a", HELD).await.unwrap(), "released is gone");
    assert!(store.try_lease("refresher", "default", "node-b", HELD).await.unwrap(), "free once released");
}

async fn an_expired_lease_nobody_took_can_be_renewed(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    assert!(store.try_lease("refresher", "default", "node-a", SHORT).await.unwrap());
    wait_out_short_ttl().await;
    assert!(store.renew_lease("refresher", "default", "node-a", HELD).await.unwrap());
    assert!(!store.try_lease("refresher", "default", "node-b", HELD).await.unwrap(), "renewed, so held again");
}

// ---------------------------------------------------------------------------------------------
// Job queue
// ---------------------------------------------------------------------------------------------

async fn an_enqueued_job_is_claimed_with_its_payload(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let payload = json!({"instanceId": 42, "events": ["created", "updated"]});
    let id = store.enqueue(&NewJob::new("webhooks", payload.clone())).await.unwrap();
    store.enqueue(&NewJob::new("emails", json!({}))).await.unwrap();
    let later = NewJob { run_at: Some(Utc::now() + TimeDelta::hours(1)), ..NewJob::new("webhooks", json!(2)) };
    store.enqueue(&later).await.unwrap();

    let claimed = store.claim_jobs("webhooks", "worker-a", HELD, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "only the due job of this queue: {claimed:?}");
    let job = &claimed[0];
    assert_eq!((job.id, job.queue.as_str(), &job.payload), (id, "webhooks", &payload));
    assert_eq!((job.state, job.attempts, job.max_attempts), (JobState::Running, 0, DEFAULT_MAX_ATTEMPTS));
    assert_eq!(job.lease_owner.as_deref(), Some("worker-a"));
    assert!(job.lease_until.unwrap() > job.run_at);
    assert_eq!(job.last_error, None);

    assert!(store.claim_jobs("webhooks", "worker-b", HELD, 10).await.unwrap().is_empty(), "leased to worker-a");
    assert!(store.complete_job(id, "worker-a").await.unwrap());
    assert!(!store.complete_job(id, "worker-a").await.unwrap(), "completed once");
    assert!(store.claim_jobs("webhooks", "worker-b", HELD, 10).await.unwrap().is_empty(), "done is never claimed");
}

async fn claims_take_the_oldest_due_jobs_up_to_the_limit(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let hour_ago = now_micros() - TimeDelta::hours(1);
    let mut ids = Vec::new();
    // Enqueued newest first, so id order and run_at order disagree.
    for minutes in [30, 20, 10] {
        let job = NewJob { run_at: Some(hour_ago + TimeDelta::minutes(minutes)), ..NewJob::new("q", json!(minutes)) };
        ids.push(store.enqueue(&job).await.unwrap());
    }
    let first = store.claim_jobs("q", "worker", HELD, 2).await.unwrap();
    assert_eq!(first.iter().map(|job| job.id).collect::<Vec<_>>(), [ids[2], ids[1]]);
    assert_eq!(first[0].run_at, hour_ago + TimeDelta::minutes(10), "run_at round-trips");
    let rest = store.claim_jobs("q", "worker", HELD, 2).await.unwrap();
    assert_eq!(rest.iter().map(|job| job.id).collect::<Vec<_>>(), [ids[0]]);
}

async fn concurrent_claimers_take_every_job_exactly_once(db: Arc<TestDb>) {
    const JOBS: usize = 200;
    const CLAIMERS: usize = 8;
    let nodes = two_nodes(&db).await;
    let mut enqueued = Vec::new();
    for n in 0..JOBS {
        enqueued.push(nodes[n % 2].enqueue(&NewJob::new("sync", json!({ "n": n }))).await.unwrap());
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
    let mut claimers = Vec::new();
    for claimer in 0..CLAIMERS {
        let store = Arc::clone(&nodes[claimer % nodes.len()]);
        let barrier = Arc::clone(&barrier);
        claimers.push(tokio::spawn(async move {
            let owner = format!("worker-{claimer}");
            barrier.wait().await;
            let mut taken = Vec::new();
            loop {
                let batch = store.claim_jobs("sync", &owner, HELD, 7).await.unwrap();
                if batch.is_empty() {
                    return taken;
                }
                for job in batch {
                    assert_eq!(job.lease_owner.as_deref(), Some(owner.as_str()));
                    assert!(store.complete_job(job.id, &owner).await.unwrap(), "the claimer holds job {}", job.id);
                    taken.push(job.id);
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    assert_eq!(claimed.len(), JOBS, "no job claimed twice");
    claimed.sort_unstable();
    enqueued.sort_unstable();
    assert_eq!(claimed, enqueued, "every job claimed");
}

async fn only_the_claim_holder_completes_or_fails_a_job(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let id = store.enqueue(&NewJob::new("q", json!(null))).await.unwrap();
    assert!(!store.complete_job(id, "worker-a").await.unwrap(), "not claimed yet");
    store.claim_jobs("q", "worker-a", HELD, 1).await.unwrap();

    assert!(!store.complete_job(id, "worker-b").await.unwrap());
    assert_eq!(store.fail_job(id, "worker-b", "not mine", None).await.unwrap(), None);
    assert!(!store.extend_job_lease(id, "worker-b", HELD).await.unwrap());
    assert!(!store.complete_job(id + 1, "worker-a").await.unwrap(), "no such job");

    assert!(store.extend_job_lease(id, "worker-a", HELD).await.unwrap());
    assert!(store.complete_job(id, "worker-a").await.unwrap());
    assert!(!store.extend_job_lease(id, "worker-a", HELD).await.unwrap(), "done is not leased");
    assert_eq!(store.fail_job(id, "worker-a", "too late", None).await.unwrap(), None);
    assert!(store.dead_jobs("q", 10).await.unwrap().is_empty());
}

async fn an_expired_claim_moves_to_another_worker(db: Arc<TestDb>) {
    let [first, second] = two_nodes(&db).await;
    let id = first.enqueue(&NewJob::new("q", json!("work"))).await.unwrap();
    assert_eq!(first.claim_jobs("q", "worker-a", SHORT, 10).await.unwrap()[0].id, id);
    wait_out_short_ttl().await; // worker-a died

    let reclaimed = second.claim_jobs("q", "worker-b", HELD, 10).await.unwrap();
    assert_eq!(reclaimed.iter().map(|job| job.id).collect::<Vec<_>>(), [id]);
    assert_eq!(reclaimed[0].attempts, 1, "an expired claim counts as a failed attempt");
    assert_eq!(reclaimed[0].last_error.as_deref(), Some("lease of worker-a expired (attempt 1 of 5)"));
    assert!(!first.complete_job(id, "worker-a").await.unwrap(), "worker-a lost the claim");
    assert!(!first.extend_job_lease(id, "worker-a", HELD).await.unwrap());
    assert_eq!(first.fail_job(id, "worker-a", "late", None).await.unwrap(), None);
    assert!(second.complete_job(id, "worker-b").await.unwrap());
}

async fn a_heartbeat_keeps_a_claim(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let id = store.enqueue(&NewJob::new("q", json!({}))).await.unwrap();
    store.claim_jobs("q", "worker-a", SHORT, 1).await.unwrap();
    assert!(store.extend_job_lease(id, "worker-a", HELD).await.unwrap());
    wait_out_short_ttl().await;
    assert!(store.claim_jobs("q", "worker-b", HELD, 1).await.unwrap().is_empty(), "the extended claim holds");
    assert!(store.complete_job(id, "worker-a").await.unwrap());
}

async fn a_failed_job_backs_off_then_dies_when_its_attempts_run_out(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let dies_at_once = store.enqueue(&NewJob::new("q", json!("a"))).await.unwrap();
    let retried = store.enqueue(&NewJob { max_attempts: 3, ..NewJob::new("q", json!("b")) }).await.unwrap();
    let backs_off = store.enqueue(&NewJob::new("q", json!("c"))).await.unwrap();
    let other_queue = store.enqueue(&NewJob::new("other", json!("d"))).await.unwrap();
    assert_eq!(store.claim_jobs("q", "worker", HELD, 10).await.unwrap().len(), 3);
    store.claim_jobs("other", "worker", HELD, 10).await.unwrap();

    // No retry time: dead at once.
    assert_eq!(store.fail_job(dies_at_once, "worker", "bad payload", None).await.unwrap(), Some(JobState::Dead));
    // A retry time an hour away: ready, but not claimable before then.
    let in_an_hour = Utc::now() + TimeDelta::hours(1);
    assert_eq!(store.fail_job(backs_off, "worker", "503", Some(in_an_hour)).await.unwrap(), Some(JobState::Ready));
    // A retry time that soon passes: claimable again, counting the failure.
    let soon = Utc::now() + SHORT;
    assert_eq!(store.fail_job(retried, "worker", "timeout 1", Some(soon)).await.unwrap(), Some(JobState::Ready));
    wait_out_short_ttl().await;
    let again = store.claim_jobs("q", "worker", HELD, 10).await.unwrap();
    assert_eq!(again.iter().map(|job| job.id).collect::<Vec<_>>(), [retried], "the backed-off job waits");
    assert_eq!((again[0].attempts, again[0].last_error.as_deref()), (1, Some("timeout 1")));

    let past = Utc::now() - TimeDelta::seconds(1);
    assert_eq!(store.fail_job(retried, "worker", "timeout 2", Some(past)).await.unwrap(), Some(JobState::Ready));
    assert_eq!(store.claim_jobs("q", "worker", HELD, 10).await.unwrap()[0].attempts, 2);
    // The third failure of three allowed is the last, retry time or not.
    assert_eq!(store.fail_job(retried, "worker", "timeout 3", Some(past)).await.unwrap(), Some(JobState::Dead));
    assert!(store.claim_jobs("q", "worker", HELD, 10).await.unwrap().is_empty(), "the dead are never claimed");

    let dead = store.dead_jobs("q", 10).await.unwrap();
    assert_eq!(dead.iter().map(|job| job.id).collect::<Vec<_>>(), [retried, dies_at_once], "latest first");
    assert_eq!(dead[0].state, JobState::Dead);
    assert_eq!((dead[0].attempts, dead[0].max_attempts), (3, 3));
    assert_eq!(dead[0].last_error.as_deref(), Some("timeout 3"));
    assert_eq!(dead[0].payload, json!("b"));
    assert_eq!((dead[0].lease_owner.as_deref(), dead[0].lease_until), (None, None));
    assert_eq!((dead[1].attempts, dead[1].last_error.as_deref()), (1, Some("bad payload")));
    assert_eq!(store.dead_jobs("q", 1).await.unwrap().len(), 1);
    assert!(store.dead_jobs("other", 10).await.unwrap().is_empty(), "{other_queue} is running, not dead");
}

async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(db: Arc<TestDb>) {
    let ring = keyring();
    // The same steps on each database's own store and transaction types.
    macro_rules! enqueue_rolled_back_then_committed {
        ($store:expr) => {{
            let store = $store.await.unwrap();
            let mut rolled_back = store.pool().begin().await.unwrap();
            store.enqueue_in(&mut rolled_back, &NewJob::new("q", json!("rolled back"))).await.unwrap();
            rolled_back.rollback().await.unwrap();
            let mut committed = store.pool().begin().await.unwrap();
            let id = store.enqueue_in(&mut committed, &NewJob::new("q", json!("committed"))).await.unwrap();
            committed.commit().await.unwrap();
            id
        }};
    }
    let committed = match db.backend {
        Backend::Sqlite => enqueue_rolled_back_then_committed!(SqliteStore::connect(&db.url, ring.clone())),
        Backend::Postgres => enqueue_rolled_back_then_committed!(PostgresStore::connect(&db.url, ring.clone())),
    };
    let store = db.connect(ring).await;
    let claimed = store.claim_jobs("q", "worker", HELD, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [committed]);
    assert_eq!(claimed[0].payload, json!("committed"));
    assert_eq!(db.raw_texts("SELECT payload FROM jobs").await, ["\"committed\""], "nothing else stored");
}

async fn a_job_whose_claims_keep_expiring_dies(db: Arc<TestDb>) {
    let [first, second] = two_nodes(&db).await;
    let id = first.enqueue(&NewJob { max_attempts: 3, ..NewJob::new("q", json!("poison")) }).await.unwrap();
    // Each worker dies while holding the job.
    assert_eq!(first.claim_jobs("q", "worker-1", SHORT, 10).await.unwrap()[0].attempts, 0);
    for (worker, attempts) in [("worker-2", 1), ("worker-3", 2)] {
        wait_out_short_ttl().await;
        let store = if attempts == 1 { &second } else { &first };
        let claimed = store.claim_jobs("q", worker, SHORT, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [id]);
        assert_eq!(claimed[0].attempts, attempts);
        assert_eq!(claimed[0].lease_owner.as_deref(), Some(worker));
    }
    wait_out_short_ttl().await;

    // The third expiry is the last of three attempts: the job is buried, not handed out, and it
    // takes no place in the claim's limit.
    let fresh = second.enqueue(&NewJob::new("q", json!("fresh"))).await.unwrap();
    let claimed = second.claim_jobs("q", "worker-4", HELD, 1).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [fresh]);
    assert!(second.claim_jobs("q", "worker-4", HELD, 10).await.unwrap().is_empty(), "the dead are never claimed");
    let dead = first.dead_jobs("q", 10).await.unwrap();
    assert_eq!(dead.iter().map(|job| job.id).collect::<Vec<_>>(), [id]);
    assert_eq!((dead[0].state, dead[0].attempts, dead[0].max_attempts), (JobState::Dead, 3, 3));
    assert_eq!(dead[0].last_error.as_deref(), Some("lease of worker-3 expired (attempt 3 of 3)"));
    assert_eq!((dead[0].lease_owner.as_deref(), dead[0].lease_until), (None, None));
    assert!(!first.complete_job(id, "worker-3").await.unwrap(), "the last holder lost it");
    assert_eq!(first.fail_job(id, "worker-3", "late", None).await.unwrap(), None);
}

async fn expired_claims_and_failures_share_the_attempts(db: Arc<TestDb>) {
    let store = db.connect(keyring()).await;
    let id = store.enqueue(&NewJob { max_attempts: 3, ..NewJob::new("q", json!(null)) }).await.unwrap();
    store.claim_jobs("q", "worker-a", HELD, 1).await.unwrap();
    let past = Utc::now() - TimeDelta::seconds(1);
    assert_eq!(store.fail_job(id, "worker-a", "503", Some(past)).await.unwrap(), Some(JobState::Ready));
    // A claim from ready counts nothing; its expiry does.
    assert_eq!(store.claim_jobs("q", "worker-b", SHORT, 1).await.unwrap()[0].attempts, 1);
    wait_out_short_ttl().await;
    let reclaimed = store.claim_jobs("q", "worker-c", HELD, 1).await.unwrap();
    assert_eq!(
        (reclaimed[0].attempts, reclaimed[0].last_error.as_deref()),
        (2, Some("lease of worker-b expired (attempt 2 of 3)"))
    );
    // The third failure, reported or not, is the last.
    assert_eq!(store.fail_job(id, "worker-c", "503", Some(past)).await.unwrap(), Some(JobState::Dead));
    assert_eq!(store.dead_jobs("q", 10).await.unwrap()[0].attempts, 3);

    // An expired claim its owner still holds (nobody re-claimed it) can still be completed: no
    // attempt is counted then.
    let done = store.enqueue(&NewJob::new("q", json!(1))).await.unwrap();
    store.claim_jobs("q", "worker-d", SHORT, 1).await.unwrap();
    wait_out_short_ttl().await;
    assert!(store.complete_job(done, "worker-d").await.unwrap());
    assert!(store.claim_jobs("q", "worker-e", HELD, 10).await.unwrap().is_empty());
}

async fn concurrent_claims_count_each_expired_claim_once(db: Arc<TestDb>) {
    const JOBS: usize = 40;
    const CLAIMERS: usize = 8;
    let nodes = two_nodes(&db).await;
    let (mut last_chance, mut second_chance) = (Vec::new(), Vec::new());
    for n in 0..JOBS {
        let job = NewJob { max_attempts: 1, ..NewJob::new("sync", json!(n)) };
        last_chance.push(nodes[0].enqueue(&job).await.unwrap());
        let job = NewJob { max_attempts: 2, ..NewJob::new("sync", json!(n)) };
        second_chance.push(nodes[1].enqueue(&job).await.unwrap());
    }
    assert_eq!(nodes[0].claim_jobs("sync", "dying", SHORT, 1000).await.unwrap().len(), 2 * JOBS);
    wait_out_short_ttl().await;

    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
    let mut claimers = Vec::new();
    for claimer in 0..CLAIMERS {
        let store = Arc::clone(&nodes[claimer % nodes.len()]);
        let barrier = Arc::clone(&barrier);
        claimers.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut taken = Vec::new();
            loop {
                let batch = store.claim_jobs("sync", &format!("worker-{claimer}"), HELD, 3).await.unwrap();
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch);
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    assert!(claimed.iter().all(|job| job.attempts == 1), "each expiry counted once");
    let mut claimed: Vec<_> = claimed.iter().map(|job| job.id).collect();
    claimed.sort_unstable();
    assert_eq!(claimed, second_chance, "every job with an attempt left claimed once, and no other");
    let dead = nodes[0].dead_jobs("sync", 1000).await.unwrap();
    assert!(dead.iter().all(|job| job.attempts == 1), "each expiry counted once");
    let mut dead: Vec<_> = dead.iter().map(|job| job.id).collect();
    dead.sort_unstable();
    assert_eq!(dead, last_chance, "every job out of attempts buried");
}

// ---------------------------------------------------------------------------------------------
// Exchanged authorization codes
// ---------------------------------------------------------------------------------------------

/// The claim of a [`CodeClaim::Claimed`]; panics on a replay.
fn claimed(claim: CodeClaim) -> ClaimedCode {
    match claim {
        CodeClaim::Claimed(claim) => claim,
        replayed => panic!("expected the code to be claimed, got {replayed:?}"),
    }
}

fn replayed(organization_id: OrganizationId, instance_id: Option<InstanceId>) -> CodeClaim {
    CodeClaim::Replayed { organization_id, instance_id }
}

async fn an_authorization_code_is_claimed_once_and_replays_name_its_holder(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (other, _) = store.create_organization("other").await.unwrap();
    let code = fresh_secret();
    let claim = claimed(store.claim_authorization_code(&code, org, AUTHORIZATION_CODE_TTL).await.unwrap());
    assert_eq!(claim.organization_id(), org);

    // While the exchange is in flight, a replay names the organization but no instance yet.
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(org, None));
    assert_eq!(store.claim_authorization_code(&code, other.id, HELD).await.unwrap(), replayed(org, None));

    let instance = store.insert_instance_with_code(new_instance(org, "crm", &[]), &claim).await.unwrap();
    assert_eq!(store.get_instance(org, instance.id).await.unwrap().token, instance.token);
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(org, Some(instance.id)));
    assert_eq!(store.claim_authorization_code(&code, other.id, HELD).await.unwrap(), replayed(org, Some(instance.id)));

    // A claim creates one instance: a second insert with it fails and stores nothing.
    let err = store.insert_instance_with_code(new_instance(org, "again", &[]), &claim).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("authorization code")), "{err:?}");
    assert_eq!(count(&db, "instances").await, 1);
    // A bound claim is not released, and survives its instance.
    store.release_authorization_code(&claim).await.unwrap();
    store.delete_instance(org, instance.id).await.unwrap();
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(org, Some(instance.id)));

    // Other codes are other claims; an unknown organization claims nothing.
    claimed(store.claim_authorization_code(&fresh_secret(), other.id, HELD).await.unwrap());
    let err = store.claim_authorization_code(&fresh_secret(), OrganizationId::new(9999), HELD).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn a_released_authorization_code_can_be_claimed_again(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (other, _) = store.create_organization("other").await.unwrap();
    let code = fresh_secret();
    let refused = claimed(store.claim_authorization_code(&code, org, HELD).await.unwrap());
    store.release_authorization_code(&refused).await.unwrap(); // the vendor refused the code
    assert_eq!(count(&db, "authorization_codes").await, 0);

    let retry = claimed(store.claim_authorization_code(&code, other.id, HELD).await.unwrap());
    assert_ne!(retry, refused, "a new claim");
    // The released claim is spent: it neither releases nor binds the new one.
    store.release_authorization_code(&refused).await.unwrap();
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(other.id, None));
    let err = store.insert_instance_with_code(new_instance(org, "crm", &[]), &refused).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // A claim binds only an instance of its own organization.
    let err = store.insert_instance_with_code(new_instance(org, "crm", &[]), &retry).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(count(&db, "instances").await, 0, "nothing inserted by a failed bind");

    let instance = store.insert_instance_with_code(new_instance(other.id, "crm", &[]), &retry).await.unwrap();
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(other.id, Some(instance.id)));
}

async fn an_expired_authorization_code_claim_can_be_claimed_again(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (other, _) = store.create_organization("other").await.unwrap();
    let code = fresh_secret();
    let stale = claimed(store.claim_authorization_code(&code, org, SHORT).await.unwrap());
    let bound = claimed(store.claim_authorization_code(&fresh_secret(), org, SHORT).await.unwrap());
    store.insert_instance_with_code(new_instance(org, "crm", &[]), &bound).await.unwrap();
    wait_out_short_ttl().await;

    let fresh = claimed(store.claim_authorization_code(&code, other.id, HELD).await.unwrap());
    assert_eq!(fresh.organization_id(), other.id);
    assert_eq!(count(&db, "authorization_codes").await, 1, "expired claims, bound or not, are pruned");
    // The stale claim can neither bind nor release the code now.
    let err = store.insert_instance_with_code(new_instance(org, "late", &[]), &stale).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    store.release_authorization_code(&stale).await.unwrap();
    assert_eq!(store.claim_authorization_code(&code, org, HELD).await.unwrap(), replayed(other.id, None));
    assert_eq!(count(&db, "instances").await, 1);
}

async fn concurrent_claims_of_one_authorization_code_succeed_once(db: Arc<TestDb>) {
    const CLAIMERS: usize = 8;
    let nodes = two_nodes(&db).await;
    let orgs =
        [nodes[0].create_organization("a").await.unwrap().0.id, nodes[0].create_organization("b").await.unwrap().0.id];
    let code = fresh_secret();
    // Round 0 races to insert the row; round 1 again, after a release; round 2 races to take over an
    // expired claim.
    for round in 0..3 {
        if round == 2 {
            claimed(nodes[1].claim_authorization_code(&code, orgs[1], SHORT).await.unwrap());
            wait_out_short_ttl().await;
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
        let mut claimers = Vec::new();
        for claimer in 0..CLAIMERS {
            let store = Arc::clone(&nodes[claimer % nodes.len()]);
            let (barrier, code, org) = (Arc::clone(&barrier), code.clone(), orgs[claimer / 2 % 2]);
            claimers.push(tokio::spawn(async move {
                barrier.wait().await;
                store.claim_authorization_code(&code, org, HELD).await.unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for claimer in claimers {
            outcomes.push(claimer.await.unwrap());
        }
        let winners: Vec<_> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                CodeClaim::Claimed(claim) => Some(claim.clone()),
                CodeClaim::Replayed { .. } => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one claim: {outcomes:?}");
        let holder = winners[0].organization_id();
        let replays = outcomes.iter().filter(|outcome| **outcome == replayed(holder, None)).count();
        assert_eq!(replays, CLAIMERS - 1, "round {round}: the others see the winner: {outcomes:?}");
        nodes[0].release_authorization_code(&winners[0]).await.unwrap();
    }
}

async fn a_claimed_authorization_code_binds_to_an_existing_instance_of_its_organization(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (other, _) = store.create_organization("other").await.unwrap();
    let own = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let foreign = store.insert_instance(new_instance(other.id, "crm", &[])).await.unwrap();
    let code = fresh_secret();
    // A re-authentication of `own` exchanges this code.
    let claim = claimed(store.claim_authorization_code(&code, org, HELD).await.unwrap());
    assert!(!store.bind_authorization_code(&claim, foreign.id).await.unwrap(), "another organization's instance");
    assert!(
        !store.bind_authorization_code(&claim, InstanceId::new(foreign.id.get() + 100)).await.unwrap(),
        "no such instance"
    );
    assert!(store.bind_authorization_code(&claim, own.id).await.unwrap());
    assert!(!store.bind_authorization_code(&claim, own.id).await.unwrap(), "bound once");
    assert_eq!(store.claim_authorization_code(&code, other.id, HELD).await.unwrap(), replayed(org, Some(own.id)));
}

async fn an_authorization_code_is_not_stored_in_clear(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let code = fresh_secret();
    let claim = claimed(store.claim_authorization_code(&code, org, HELD).await.unwrap());
    let instance = store.insert_instance_with_code(new_instance(org, "crm", &[]), &claim).await.unwrap();

    let rows = db
        .raw_texts(
            "SELECT code_lookup || ' ' || CAST(organization_id AS TEXT) || ' ' || CAST(instance_id AS TEXT) \
             || ' ' || claim_ticket || ' ' || CAST(created_at AS TEXT) || ' ' || CAST(expires_at AS TEXT) \
             FROM authorization_codes",
        )
        .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].contains(code.expose()), "the code is stored only as its keyed hash");
    let columns: Vec<&str> = rows[0].split(' ').collect();
    assert_eq!(columns[0], store.keyed_hash("authorization-code", code.expose()), "keyed, with its own purpose");
    assert_ne!(columns[0], store.keyed_hash("oauth-state", code.expose()));
    assert_eq!(columns[1..3], [org.to_string(), instance.id.to_string()]);
}

fn events_instance(organization_id: OrganizationId, name: &str) -> NewInstance {
    let mut new = new_instance(organization_id, name, &[]);
    new.configuration.insert("event.notification.enabled".into(), "true".into());
    new
}

fn seen(id: &str, changed_at: &str) -> SeenRecord {
    SeenRecord {
        object_id: id.into(),
        changed_at: changed_at.into(),
        created_at: None,
        record: json!({ "id": id, "at": changed_at }),
    }
}

fn object_poll(seen: Vec<SeenRecord>, complete: bool, baseline: bool) -> ObjectPoll {
    let watermark = seen.iter().map(|s| s.changed_at.clone()).max();
    ObjectPoll { object: "contacts".into(), seen, complete, baseline, watermark, backfill_since: None, deleted: vec![] }
}

fn commit(instance_id: InstanceId, owner: &str, objects: Vec<ObjectPoll>) -> PollCommit {
    PollCommit {
        instance_id,
        owner: owner.into(),
        element_key: "infusionsoftcrm".into(),
        hub_key: "crm".into(),
        poll_date: Utc::now(),
        objects,
        max_per_event: 2,
        source: "polling",
        next_poll_at: Some(Utc::now() + TimeDelta::minutes(15)),
    }
}

/// `(eventType, objectId)` of every change of `events`, in order.
fn changes_of(events: &[StoredEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .flat_map(|event| event.changes.as_array().unwrap().clone())
        .map(|change| {
            (change["eventType"].as_str().unwrap().to_string(), change["objectId"].as_str().unwrap().to_string())
        })
        .collect()
}

async fn an_instance_has_a_poller_exactly_while_its_events_are_enabled(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let quiet = store.insert_instance(new_instance(org, "quiet", &[])).await.unwrap();
    assert!(matches!(store.claim_poll(quiet.id, "a", HELD).await, Err(StoreError::NotFound)));
    let loud = store.insert_instance(events_instance(org, "loud")).await.unwrap();
    assert!(store.claim_poll(loud.id, "a", HELD).await.unwrap(), "a new poller is due at once");
    assert!(!store.claim_poll(loud.id, "b", HELD).await.unwrap(), "held by a");

    let off = InstancePatch {
        configuration: BTreeMap::from([("event.notification.enabled".to_string(), Some("false".to_string()))]),
        ..InstancePatch::default()
    };
    store.update_instance(org, loud.id, off).await.unwrap();
    assert!(matches!(store.claim_poll(loud.id, "a", HELD).await, Err(StoreError::NotFound)));
    let on = InstancePatch {
        configuration: BTreeMap::from([("event.notification.enabled".to_string(), Some("true".to_string()))]),
        ..InstancePatch::default()
    };
    store.update_instance(org, quiet.id, on).await.unwrap();
    assert_eq!(store.claim_due_polls("c", HELD, 10).await.unwrap(), vec![quiet.id]);
}

async fn a_due_poll_is_claimed_once_and_committed_only_by_its_holder(db: Arc<TestDb>) {
    let [one, two] = two_nodes(&db).await;
    let (org, _) = one.create_organization("acme").await.unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(one.insert_instance(events_instance(org.id, &format!("i{n}"))).await.unwrap().id);
    }
    let (a, b) = tokio::join!(one.claim_due_polls("a", SHORT, 15), two.claim_due_polls("b", SHORT, 15));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<_> = a.iter().chain(&b).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "no instance claimed twice: {a:?} {b:?}");
    assert_eq!(all.len(), 20);

    let held_by_a = a[0];
    assert_eq!(two.commit_poll(&commit(held_by_a, "b", vec![])).await.unwrap(), None, "b does not hold it");
    wait_out_short_ttl().await;
    assert!(two.claim_poll(held_by_a, "b", HELD).await.unwrap(), "an expired claim is taken over");
    assert_eq!(one.commit_poll(&commit(held_by_a, "a", vec![])).await.unwrap(), None, "a lost it");
    assert_eq!(two.commit_poll(&commit(held_by_a, "b", vec![])).await.unwrap(), Some(vec![]));
    let due: Vec<_> = one.claim_due_polls("c", HELD, 100).await.unwrap();
    assert!(!due.contains(&held_by_a), "a committed poll is next due at its next_poll_at");
}

async fn a_poll_reports_each_change_once_and_deletes_from_complete_reads(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let id = store.insert_instance(events_instance(org, "i")).await.unwrap().id;
    let claim = || async { assert!(store.claim_poll(id, "a", HELD).await.unwrap()) };

    claim().await;
    let baseline = vec![seen("1", "2026-01-01T00:00:00Z"), seen("2", "2026-01-01T00:00:00Z")];
    let recorded = store.commit_poll(&commit(id, "a", vec![object_poll(baseline, true, true)])).await.unwrap();
    assert_eq!(recorded, Some(vec![]), "the first poll reports nothing");
    assert_eq!(store.watermarks(id).await.unwrap()["contacts"].watermark.as_deref(), Some("2026-01-01T00:00:00Z"));

    claim().await;
    let reread = vec![
        seen("2", "2026-01-01T00:00:00Z"),
        seen("1", "2026-01-01T00:00:05Z"),
        seen("3", "2026-01-01T00:00:06Z"),
        seen("4", "2026-01-01T00:00:07Z"),
    ];
    let recorded = store.commit_poll(&commit(id, "a", vec![object_poll(reread.clone(), false, false)])).await;
    let recorded = recorded.unwrap().unwrap();
    assert_eq!(
        changes_of(&recorded),
        [("UPDATED", "1"), ("CREATED", "3"), ("CREATED", "4")].map(|(k, i)| (k.to_string(), i.to_string()))
    );
    assert_eq!(recorded.len(), 2, "at most max_per_event changes per notification");
    assert!(recorded.iter().all(|event| event.status == EventStatus::New && event.object_type == "contacts"));
    assert_eq!(recorded[0].raw, json!([reread[1].record, reread[2].record]));

    claim().await;
    let again = store.commit_poll(&commit(id, "a", vec![object_poll(reread, false, false)])).await.unwrap();
    assert_eq!(again, Some(vec![]), "the overlap window's re-read is no change");

    claim().await;
    let complete = vec![seen("1", "2026-01-01T00:00:05Z"), seen("4", "2026-01-01T00:00:07Z")];
    let recorded = store.commit_poll(&commit(id, "a", vec![object_poll(complete, true, false)])).await;
    let recorded = recorded.unwrap().unwrap();
    let deleted: Vec<_> = changes_of(&recorded);
    assert_eq!(deleted, [("DELETED", "2"), ("DELETED", "3")].map(|(k, i)| (k.to_string(), i.to_string())));
    assert!(store.watermarks(id).await.unwrap()["contacts"].reconciled_at.is_some());

    claim().await;
    let back = vec![seen("2", "2026-01-01T00:00:09Z")];
    let recorded = store.commit_poll(&commit(id, "a", vec![object_poll(back, false, false)])).await;
    assert_eq!(changes_of(&recorded.unwrap().unwrap()), [("CREATED".to_string(), "2".to_string())]);
}

async fn a_backfill_reports_what_was_reported_before(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let id = store.insert_instance(events_instance(org, "i")).await.unwrap().id;
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    let records = vec![
        SeenRecord { created_at: Some("2025-06-01T00:00:00Z".into()), ..seen("1", "2026-01-01T00:00:00Z") },
        SeenRecord { created_at: Some("2026-01-01T00:00:00Z".into()), ..seen("2", "2026-01-01T00:00:00Z") },
    ];
    store.commit_poll(&commit(id, "a", vec![object_poll(records.clone(), true, true)])).await.unwrap();
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    let mut backfill = object_poll(records, false, false);
    backfill.backfill_since = Some("2025-12-01T00:00:00Z".into());
    let recorded = store.commit_poll(&commit(id, "a", vec![backfill])).await.unwrap().unwrap();
    assert_eq!(
        changes_of(&recorded),
        [("UPDATED", "1"), ("CREATED", "2")].map(|(k, i)| (k.to_string(), i.to_string()))
    );
}

/// Records `n` single-change notifications for a new instance and returns it with them.
async fn recorded_events(store: &Arc<dyn Store>, org: OrganizationId, n: usize) -> (InstanceId, Vec<StoredEvent>) {
    let id = store.insert_instance(events_instance(org, &format!("e{n}"))).await.unwrap().id;
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    store.commit_poll(&commit(id, "a", vec![object_poll(vec![], true, true)])).await.unwrap();
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    let records = (0..n).map(|i| seen(&i.to_string(), &format!("2026-01-01T00:00:{i:02}Z"))).collect();
    let mut poll = commit(id, "a", vec![object_poll(records, false, false)]);
    poll.max_per_event = 1;
    (id, store.commit_poll(&poll).await.unwrap().unwrap())
}

async fn a_failed_delivery_waits_for_its_retry_then_fails_for_good_and_can_be_retried(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (id, events) = recorded_events(&store, org, 2).await;
    assert_eq!(store.instances_with_due_events(10).await.unwrap(), vec![id]);
    let first = events[0].id;
    store.mark_dispatched(first).await.unwrap();
    assert_eq!(store.get_event(id, first).await.unwrap().status, EventStatus::Dispatched);
    let later = Utc::now() + TimeDelta::hours(1);
    let failed = DeliveryResult::Failed { status: Some(500), error: "HTTP 500: oops".into(), retry_at: Some(later) };
    assert_eq!(store.record_delivery(first, &failed).await.unwrap(), Some(EventStatus::New));
    assert_eq!(store.instances_with_due_events(10).await.unwrap(), vec![], "the head waits for its retry");
    let event = store.get_event(id, first).await.unwrap();
    assert_eq!(
        (event.attempts, event.last_status, event.last_error.as_deref()),
        (1, Some(500), Some("HTTP 500: oops"))
    );
    assert_eq!(store.pending_events(id, 10).await.unwrap().len(), 2);

    let final_failure = DeliveryResult::Failed { status: None, error: "timed out".into(), retry_at: None };
    assert_eq!(store.record_delivery(first, &final_failure).await.unwrap(), Some(EventStatus::Failed));
    assert_eq!(store.record_delivery(first, &final_failure).await.unwrap(), None, "no longer pending");
    assert_eq!(store.instances_with_due_events(10).await.unwrap(), vec![id], "the next one is due");
    let second = events[1].id;
    assert_eq!(
        store.record_delivery(second, &DeliveryResult::Notified { status: 204 }).await.unwrap(),
        Some(EventStatus::Notified)
    );
    assert!(store.get_event(id, second).await.unwrap().notified_at.is_some());

    assert_eq!(store.retry_events(id, None).await.unwrap(), 1, "every FAILED one");
    let retried = store.get_event(id, first).await.unwrap();
    assert_eq!((retried.status, retried.attempts), (EventStatus::New, 0));
    assert_eq!(store.retry_events(id, Some(second)).await.unwrap(), 1, "a NOTIFIED one is sent again");
    assert_eq!(store.pending_events(id, 10).await.unwrap().len(), 2);
    let other = store.insert_instance(events_instance(org, "other")).await.unwrap().id;
    assert!(matches!(store.get_event(other, first).await, Err(StoreError::NotFound)));
    assert_eq!(store.retry_events(other, Some(first)).await.unwrap(), 0);
}

async fn the_event_log_filters_pages_in_order_and_prunes_only_finished_notifications(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (id, events) = recorded_events(&store, org, 5).await;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let all = |query: EventQuery| {
        let store = Arc::clone(&store);
        async move { store.list_events(id, &EventQuery { limit: 100, ..query }).await.unwrap() }
    };
    let newest_first: Vec<i64> = all(EventQuery::default()).await.iter().map(|e| e.id).collect();
    assert_eq!(newest_first, ids.iter().rev().copied().collect::<Vec<_>>());
    let pulled: Vec<i64> =
        all(EventQuery { after: Some(ids[1]), ..EventQuery::default() }).await.iter().map(|e| e.id).collect();
    assert_eq!(pulled, ids[2..].to_vec(), "after: oldest first from the next one");
    store.record_delivery(ids[0], &DeliveryResult::Notified { status: 200 }).await.unwrap();
    let notified = all(EventQuery { status: Some(EventStatus::Notified), ..EventQuery::default() }).await;
    assert_eq!(notified.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[0]]);
    assert!(all(EventQuery { object_type: Some("orders".into()), ..EventQuery::default() }).await.is_empty());
    let future = Utc::now() + TimeDelta::minutes(1);
    assert!(all(EventQuery { from: Some(future), ..EventQuery::default() }).await.is_empty());

    let counts = store.event_counts(Some(id)).await.unwrap();
    assert_eq!((counts.new, counts.notified), (4, 1));
    assert!(counts.oldest_pending.is_some());
    assert_eq!(store.prune_events(future).await.unwrap(), 1, "only the delivered one");
    assert_eq!(store.list_events(id, &EventQuery { limit: 100, ..EventQuery::default() }).await.unwrap().len(), 4);
}

async fn webhook_changes_report_the_deletes_named_and_leave_the_schedule_alone(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let id = store.insert_instance(events_instance(org, "i")).await.unwrap().id;
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    store
        .commit_poll(&commit(id, "a", vec![object_poll(vec![seen("1", "2026-01-01T00:00:00Z")], true, true)]))
        .await
        .unwrap();
    assert!(store.claim_poll(id, "a", HELD).await.unwrap());
    let mut hook = commit(id, "a", vec![ObjectPoll { deleted: vec!["1".into()], ..object_poll(vec![], false, false) }]);
    hook.next_poll_at = None;
    hook.source = "webhook";
    let recorded = store.commit_poll(&hook).await.unwrap().unwrap();
    assert_eq!(changes_of(&recorded), [("DELETED".to_string(), "1".to_string())]);
    assert_eq!(recorded[0].source, "webhook");
    assert!(store.claim_due_polls("b", HELD, 10).await.unwrap().is_empty(), "still next due in 15 minutes");
    assert!(store.claim_poll(id, "b", HELD).await.unwrap(), "the claim was released");
}

// ---------------------------------------------------------------------------------------------
// Common resources
// ---------------------------------------------------------------------------------------------

/// A definition document with one field.
fn definition(field: &str) -> serde_json::Value {
    json!({ "fields": [{ "path": field, "type": "string" }] })
}

/// The names of `documents`, in order.
fn names(documents: &[ResourceDocument]) -> Vec<&str> {
    documents.iter().map(|d| d.name.as_str()).collect()
}

async fn a_definition_is_created_read_listed_replaced_and_deleted(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let org_scope = ResourceScope::Organization;
    let (def, create) = (ResourceKind::Definition, PutMode::Create);
    let start = store.resources_generation().await.unwrap();

    let created = store.put_resource(org, def, &org_scope, "MyContact", &definition("email"), create).await.unwrap();
    assert_eq!((created.kind, &created.scope, created.name.as_str()), (def, &org_scope, "MyContact"));
    assert_eq!(created.document, definition("email"));
    assert_eq!(created.created_at, created.updated_at);
    let after_create = store.resources_generation().await.unwrap();
    assert!(after_create > start, "a create moves the generation");

    let again = store.put_resource(org, def, &org_scope, "mycontact", &definition("phone"), create).await;
    assert!(matches!(again, Err(StoreError::Conflict("common resource"))), "{again:?}");
    let missing =
        store.put_resource(org, def, &org_scope, "Nobody", &definition("x"), PutMode::Replace).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound), "{missing:?}");
    assert!(store.resource(org, def, &org_scope, "Nobody").await.unwrap().is_none());

    assert_eq!(store.resource(org, def, &org_scope, "MYCONTACT").await.unwrap(), Some(created.clone()));
    let listed = store.resources(org, None, std::slice::from_ref(&org_scope)).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&created));
    assert_eq!(store.resources_generation().await.unwrap(), after_create, "refused writes and reads leave it");

    tokio::time::sleep(Duration::from_millis(5)).await;
    let replaced =
        store.put_resource(org, def, &org_scope, "MYCONTACT", &definition("phone"), PutMode::Replace).await.unwrap();
    assert_eq!(replaced.name, "MyContact", "the first spelling stays");
    assert_eq!(replaced.document, definition("phone"));
    assert_eq!(replaced.created_at, created.created_at);
    assert!(replaced.updated_at > created.updated_at);
    assert_eq!(store.resource(org, def, &org_scope, "mycontact").await.unwrap(), Some(replaced.clone()));
    let after_replace = store.resources_generation().await.unwrap();
    assert!(after_replace > after_create, "a replace moves the generation");

    let upserted =
        store.put_resource(org, def, &org_scope, "myContact", &definition("fax"), PutMode::Upsert).await.unwrap();
    assert_eq!((upserted.name.as_str(), upserted.created_at), ("MyContact", created.created_at));
    assert_eq!(upserted.document, definition("fax"));
    let after_upsert = store.resources_generation().await.unwrap();
    assert!(after_upsert > after_replace, "an upsert of an existing one moves the generation");
    let new_by_upsert =
        store.put_resource(org, def, &org_scope, "Account", &definition("name"), PutMode::Upsert).await.unwrap();
    assert_eq!(new_by_upsert.name, "Account");
    let after_new_upsert = store.resources_generation().await.unwrap();
    assert!(after_new_upsert > after_upsert, "an upsert of a new one moves the generation");
    let definitions = store.resources(org, Some(def), std::slice::from_ref(&org_scope)).await.unwrap();
    assert_eq!(names(&definitions), ["Account", "MyContact"]);

    assert!(store.delete_resource(org, def, &org_scope, "MYCONTACT").await.unwrap());
    let after_delete = store.resources_generation().await.unwrap();
    assert!(after_delete > after_new_upsert, "a delete moves the generation");
    assert!(!store.delete_resource(org, def, &org_scope, "MyContact").await.unwrap(), "gone already");
    assert!(store.resource(org, def, &org_scope, "MyContact").await.unwrap().is_none());
    assert_eq!(names(&store.resources(org, None, &[org_scope]).await.unwrap()), ["Account"]);
    assert_eq!(store.resources_generation().await.unwrap(), after_delete, "deleting nothing leaves it");
}

async fn resources_are_scoped_by_kind_element_and_instance(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let other_instance = store.insert_instance(new_instance(org, "crm 2", &[])).await.unwrap();
    let scopes = [
        ResourceScope::Organization,
        ResourceScope::Element("infusionsoftcrm".into()),
        ResourceScope::Instance(instance.id),
    ];
    // Listed in kind, then scope, then name order whatever the order written in.
    for kind in [ResourceKind::Transformation, ResourceKind::Definition] {
        for scope in scopes.iter().rev() {
            for name in ["zeta", "Contact"] {
                let document = json!({ "kind": kind.as_str(), "scope": format!("{scope:?}"), "name": name });
                store.put_resource(org, kind, scope, name, &document, PutMode::Create).await.unwrap();
            }
        }
    }
    store
        .put_resource(
            org,
            ResourceKind::Definition,
            &ResourceScope::Element("sfdc".into()),
            "Contact",
            &json!({}),
            PutMode::Create,
        )
        .await
        .unwrap();
    store
        .put_resource(
            org,
            ResourceKind::Definition,
            &ResourceScope::Instance(other_instance.id),
            "Contact",
            &json!({}),
            PutMode::Create,
        )
        .await
        .unwrap();

    // Each (kind, scope) holds its own "Contact".
    for kind in [ResourceKind::Definition, ResourceKind::Transformation] {
        for scope in &scopes {
            let found = store.resource(org, kind, scope, "contact").await.unwrap().unwrap();
            assert_eq!((found.kind, &found.scope), (kind, scope));
            assert_eq!(found.document["kind"], kind.as_str());
        }
    }

    let all = store.resources(org, None, &scopes).await.unwrap();
    let listed: Vec<(ResourceKind, ResourceScope, &str)> =
        all.iter().map(|d| (d.kind, d.scope.clone(), d.name.as_str())).collect();
    let mut expected = Vec::new();
    for kind in [ResourceKind::Definition, ResourceKind::Transformation] {
        for scope in &scopes {
            expected.push((kind, scope.clone(), "Contact"));
            expected.push((kind, scope.clone(), "zeta"));
        }
    }
    assert_eq!(listed, expected, "the other element and instance are not asked for");

    let transformations = store.resources(org, Some(ResourceKind::Transformation), &scopes[1..]).await.unwrap();
    assert_eq!(transformations.len(), 4);
    assert!(transformations.iter().all(|d| d.kind == ResourceKind::Transformation && d.scope != scopes[0]));
    let sfdc = store.resources(org, None, &[ResourceScope::Element("sfdc".into())]).await.unwrap();
    assert_eq!(names(&sfdc), ["Contact"]);
    assert!(store.resources(org, None, &[]).await.unwrap().is_empty(), "no scopes, no documents");

    // Deleting one leaves its namesakes of other kinds and scopes.
    let element = &scopes[1];
    assert!(store.delete_resource(org, ResourceKind::Definition, element, "CONTACT").await.unwrap());
    assert!(store.resource(org, ResourceKind::Definition, element, "Contact").await.unwrap().is_none());
    assert!(store.resource(org, ResourceKind::Transformation, element, "Contact").await.unwrap().is_some());
    assert!(store.resource(org, ResourceKind::Definition, &scopes[0], "Contact").await.unwrap().is_some());
    assert_eq!(store.resources(org, None, &scopes).await.unwrap().len(), 11);
}

async fn an_organization_never_sees_or_writes_another_organizations_resources(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (intruder, _) = store.create_organization("intruder").await.unwrap();
    let intruder = intruder.id;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let def = ResourceKind::Definition;
    let scopes = [ResourceScope::Organization, ResourceScope::Instance(instance.id)];
    for scope in &scopes {
        store.put_resource(org, def, scope, "Contact", &definition("email"), PutMode::Create).await.unwrap();
    }

    for scope in &scopes {
        assert!(store.resource(intruder, def, scope, "Contact").await.unwrap().is_none());
        assert!(!store.delete_resource(intruder, def, scope, "Contact").await.unwrap());
        let replace = store.put_resource(intruder, def, scope, "Contact", &json!({}), PutMode::Replace).await;
        assert!(matches!(replace, Err(StoreError::NotFound)), "{replace:?}");
    }
    assert!(store.resources(intruder, None, &scopes).await.unwrap().is_empty());
    for mode in [PutMode::Create, PutMode::Upsert] {
        let put = store.put_resource(intruder, def, &scopes[1], "Contact", &json!({}), mode).await;
        assert!(matches!(put, Err(StoreError::NotFound)), "another organization's instance, {mode:?}: {put:?}");
        let put = store.put_resource(intruder, def, &scopes[1], "Other", &json!({}), mode).await;
        assert!(matches!(put, Err(StoreError::NotFound)), "another organization's instance, {mode:?}: {put:?}");
    }
    let unknown = ResourceScope::Instance(InstanceId::new(instance.id.get() + 1000));
    let put = store.put_resource(org, def, &unknown, "Contact", &json!({}), PutMode::Upsert).await;
    assert!(matches!(put, Err(StoreError::NotFound)), "no such instance: {put:?}");

    // The intruder's own organization-scoped namesake is its own.
    let theirs = store.put_resource(intruder, def, &scopes[0], "CONTACT", &json!({}), PutMode::Create).await.unwrap();
    assert_eq!(theirs.name, "CONTACT");
    let ours = store.resources(org, None, &scopes).await.unwrap();
    assert_eq!(ours.len(), 2);
    assert!(ours.iter().all(|d| d.name == "Contact" && d.document == definition("email")), "untouched: {ours:?}");
}

async fn deleting_an_instance_deletes_its_resources_and_changes_the_generation(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "crm", &[])).await.unwrap();
    let bare = store.insert_instance(new_instance(org, "no resources", &[])).await.unwrap();
    let scope = ResourceScope::Instance(instance.id);
    for kind in [ResourceKind::Definition, ResourceKind::Transformation] {
        store.put_resource(org, kind, &scope, "Contact", &json!({}), PutMode::Create).await.unwrap();
    }
    store
        .put_resource(
            org,
            ResourceKind::Definition,
            &ResourceScope::Organization,
            "Contact",
            &json!({}),
            PutMode::Create,
        )
        .await
        .unwrap();

    let before = store.resources_generation().await.unwrap();
    store.delete_instance(org, bare.id).await.unwrap();
    assert_eq!(store.resources_generation().await.unwrap(), before, "no resources went with it");

    store.delete_instance(org, instance.id).await.unwrap();
    assert!(store.resources_generation().await.unwrap() > before);
    assert!(store.resources(org, None, std::slice::from_ref(&scope)).await.unwrap().is_empty());
    let stored = db.raw_texts(&format!("SELECT name FROM common_resources WHERE instance_id = {}", instance.id)).await;
    assert!(stored.is_empty(), "deleted, not merely hidden");
    assert_eq!(count(&db, "common_resources").await, 1, "the organization's document stays");
    let put = store.put_resource(org, ResourceKind::Definition, &scope, "Contact", &json!({}), PutMode::Upsert).await;
    assert!(matches!(put, Err(StoreError::NotFound)), "{put:?}");
}

async fn concurrent_upserts_of_one_new_name_all_succeed_once_stored(db: Arc<TestDb>) {
    let nodes = two_nodes(&db).await;
    let org = nodes[0].create_organization("acme").await.unwrap().0.id;
    let mut puts = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&nodes[i % 2]);
        let name = if i % 2 == 0 { "Contact" } else { "CONTACT" };
        puts.push(tokio::spawn(async move {
            let document = json!({ "writer": i });
            store
                .put_resource(
                    org,
                    ResourceKind::Definition,
                    &ResourceScope::Organization,
                    name,
                    &document,
                    PutMode::Upsert,
                )
                .await
        }));
    }
    for put in puts {
        put.await.unwrap().unwrap();
    }
    let stored = nodes[1].resources(org, None, &[ResourceScope::Organization]).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(["Contact", "CONTACT"].contains(&stored[0].name.as_str()), "the first writer's spelling");
}

async fn an_unreadable_stored_document_is_reported_corrupt(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let scope = ResourceScope::Organization;
    store.put_resource(org, ResourceKind::Definition, &scope, "Contact", &json!({}), PutMode::Create).await.unwrap();
    db.raw_execute("UPDATE common_resources SET document = '{not json'").await;
    let read = store.resource(org, ResourceKind::Definition, &scope, "Contact").await;
    assert!(matches!(read, Err(StoreError::Corrupt("common resource document"))), "{read:?}");
}

/// A store, an instance of its organization, and a new query job of it (with a callback URL).
async fn store_with_bulk_job(db: &TestDb) -> (Arc<dyn Store>, InstanceId, i64) {
    let (store, org) = store_with_org(db).await;
    let instance = store.insert_instance(new_instance(org, "bulk", &[])).await.unwrap();
    let new = NewBulkJob {
        organization_id: org,
        instance_id: instance.id,
        kind: BulkKind::Query,
        object_name: "contacts".into(),
        request: json!({"q": "select * from contacts"}),
        callback_url: Some("https://example.com/done".into()),
    };
    let id = store.create_bulk_job(&new, false).await.unwrap();
    (store, instance.id, id)
}

fn chunk(records: u64, json: &str, csv: &str) -> ResultChunk {
    ResultChunk { records, json: json.into(), csv: csv.into() }
}

async fn a_bulk_step_commits_once_at_its_step_with_its_records_and_position(db: Arc<TestDb>) {
    let (store, instance, id) = store_with_bulk_job(&db).await;
    let queued = store.claim_jobs(BULK_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(queued.len(), 1, "creating a job queues it");
    assert_eq!(queued[0].payload, json!({"bulkJob": id}));
    let job = store.start_bulk_run(id).await.unwrap();
    assert_eq!((job.status, job.step), (BulkStatus::Running, 0));
    assert!(job.started_at.is_some());

    let first = BulkStep {
        job_id: id,
        step: 0,
        position: json!({"page": 2}),
        records: Some(chunk(2, "{\"Id\":1}\n{\"Id\":2}\n", "1\r\n2\r\n")),
        vendor_calls: 1,
        expected_count: Some(3),
        ..BulkStep::default()
    };
    assert!(store.commit_bulk_step(&first).await.unwrap());
    assert!(!store.commit_bulk_step(&first).await.unwrap(), "a step commits once");
    let last = BulkStep {
        job_id: id,
        step: 1,
        position: json!({"page": 3}),
        records: Some(chunk(1, "{\"Id\":3}\n", "3\r\n")),
        vendor_calls: 2,
        finish: Some(BulkFinish::Completed),
        ..BulkStep::default()
    };
    assert!(store.commit_bulk_step(&last).await.unwrap());
    let job = store.bulk_job(Some(instance), id).await.unwrap();
    assert_eq!(job.status, BulkStatus::Completed);
    assert_eq!((job.step, job.records_count, job.vendor_calls, job.expected_count), (2, 3, 3, Some(3)));
    assert_eq!((job.json_bytes, job.csv_bytes), (27, 9));
    assert_eq!(job.position, Some(json!({"page": 3})));
    assert!(job.completed_at.is_some());
    let later = BulkStep { step: 2, ..last.clone() };
    assert!(!store.commit_bulk_step(&later).await.unwrap(), "a final job takes no step");

    let all = store.bulk_results(id, 0, false, 10).await.unwrap();
    assert_eq!(all.iter().map(|c| (c.seq, c.json_start, c.csv_start)).collect::<Vec<_>>(), vec![(0, 0, 0), (1, 18, 6)]);
    let from_second = store.bulk_results(id, 18, false, 10).await.unwrap();
    assert_eq!(from_second.len(), 1);
    assert_eq!(from_second[0].chunk.json, "{\"Id\":3}\n");
    assert_eq!(store.bulk_results(id, 5, true, 10).await.unwrap().len(), 2, "byte 5 of the CSV is in the first chunk");
    assert!(store.bulk_results(id, 9, true, 10).await.unwrap().is_empty());
    let notices = store.claim_jobs(BULK_NOTIFY_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(notices.len(), 1, "the final step queued the notification");
}

async fn a_cancelled_bulk_job_takes_no_more_steps_and_queues_its_notification(db: Arc<TestDb>) {
    let (store, instance, id) = store_with_bulk_job(&db).await;
    store.start_bulk_run(id).await.unwrap();
    let cancelled = store.cancel_bulk_job(instance, id).await.unwrap();
    assert_eq!(cancelled.status, BulkStatus::Cancelled);
    let step = BulkStep { job_id: id, step: 0, position: json!(null), ..BulkStep::default() };
    assert!(!store.commit_bulk_step(&step).await.unwrap());
    assert_eq!(store.cancel_bulk_job(instance, id).await.unwrap().status, BulkStatus::Cancelled);
    assert_eq!(store.start_bulk_run(id).await.unwrap().status, BulkStatus::Cancelled, "a final job does not run again");
    let notices = store.claim_jobs(BULK_NOTIFY_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(notices.len(), 1, "one notification, not one per cancel");
}

async fn a_bulk_job_is_seen_only_through_its_instance(db: Arc<TestDb>) {
    let (store, instance, id) = store_with_bulk_job(&db).await;
    let (other_org, _) = store.create_organization("other").await.unwrap();
    let other = store.insert_instance(new_instance(other_org.id, "theirs", &[])).await.unwrap();
    assert!(matches!(store.bulk_job(Some(other.id), id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.cancel_bulk_job(other.id, id).await, Err(StoreError::NotFound)));
    assert!(store.list_bulk_jobs(other.id, 10).await.unwrap().is_empty());
    assert_eq!(store.list_bulk_jobs(instance, 10).await.unwrap().len(), 1);
    assert_eq!(store.bulk_job(Some(instance), id).await.unwrap().status, BulkStatus::Created);
    store.delete_instance(store.bulk_job(None, id).await.unwrap().organization_id, instance).await.unwrap();
    assert!(matches!(store.bulk_job(None, id).await, Err(StoreError::NotFound)), "an instance's jobs go with it");
}

async fn an_upload_is_invisible_until_queued_and_its_file_reads_back_in_parts(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let instance = store.insert_instance(new_instance(org, "bulk", &[])).await.unwrap();
    let new = NewBulkJob {
        organization_id: org,
        instance_id: instance.id,
        kind: BulkKind::Upload,
        object_name: "contacts".into(),
        request: json!({"format": "csv"}),
        callback_url: None,
    };
    let id = store.create_bulk_job(&new, true).await.unwrap();
    assert!(matches!(store.bulk_job(Some(instance.id), id).await, Err(StoreError::NotFound)));
    assert!(store.list_bulk_jobs(instance.id, 10).await.unwrap().is_empty());
    assert!(store.claim_jobs(BULK_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap().is_empty());
    let binary: Vec<u8> = (0..=255).collect();
    store.put_bulk_file_part(id, 0, &binary).await.unwrap();
    store.put_bulk_file_part(id, 1, b"second").await.unwrap();
    assert!(matches!(store.put_bulk_file_part(id, 1, b"again").await, Err(StoreError::Conflict(_))));
    let parts = store.bulk_file_parts(id, 1, 5).await.unwrap();
    assert_eq!(parts, vec![(1, b"second".to_vec())]);
    assert_eq!(store.bulk_file_parts(id, 0, 1).await.unwrap(), vec![(0, binary)]);
    let job = store.queue_uploaded_bulk_job(id, &json!({"format": "csv", "rows": 2}), 2).await.unwrap();
    assert_eq!((job.status, job.expected_count), (BulkStatus::Created, Some(2)));
    assert_eq!(job.request["rows"], 2);
    assert!(matches!(store.queue_uploaded_bulk_job(id, &json!({}), 2).await, Err(StoreError::NotFound)));
    assert_eq!(store.claim_jobs(BULK_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap().len(), 1);
    store.start_bulk_run(id).await.unwrap();
    let refused = BulkStep {
        job_id: id,
        step: 0,
        position: json!({"row": 1}),
        errors: vec![BulkRowError { row: 1, field: Some("Email".into()), message: "bad".into() }],
        ..BulkStep::default()
    };
    assert!(store.commit_bulk_step(&refused).await.unwrap());
    let written = BulkStep { step: 1, written: 1, errors: Vec::new(), position: json!({"row": 2}), ..refused.clone() };
    assert!(store.commit_bulk_step(&written).await.unwrap());
    let job = store.bulk_job(None, id).await.unwrap();
    assert_eq!((job.records_count, job.failed_count), (1, 1));
    let errors = store.bulk_errors(id, 0, 10).await.unwrap();
    assert_eq!(errors, vec![BulkRowError { row: 1, field: Some("Email".into()), message: "bad".into() }]);
    store.delete_bulk_job(id).await.unwrap();
    assert!(store.bulk_file_parts(id, 0, 5).await.unwrap().is_empty(), "the file goes with its job");
}

async fn a_bulk_job_whose_queue_row_died_reads_as_failed(db: Arc<TestDb>) {
    let (store, instance, id) = store_with_bulk_job(&db).await;
    let claimed = store.claim_jobs(BULK_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap();
    store.fail_job(claimed[0].id, "node", "the node ran out of luck", None).await.unwrap();
    let job = store.bulk_job(Some(instance), id).await.unwrap();
    assert_eq!(job.status, BulkStatus::Failed);
    assert!(job.error.unwrap().contains("the node ran out of luck"));
    let counts = store.bulk_job_counts().await.unwrap();
    assert_eq!(counts, vec![(BulkStatus::Failed, 1)]);
}

async fn final_bulk_jobs_are_pruned_with_their_results(db: Arc<TestDb>) {
    let (store, instance, id) = store_with_bulk_job(&db).await;
    store.start_bulk_run(id).await.unwrap();
    let step = BulkStep {
        job_id: id,
        step: 0,
        position: json!(null),
        records: Some(chunk(1, "{}\n", "\r\n")),
        finish: Some(BulkFinish::Completed),
        ..BulkStep::default()
    };
    assert!(store.commit_bulk_step(&step).await.unwrap());
    let new = NewBulkJob {
        organization_id: store.bulk_job(None, id).await.unwrap().organization_id,
        instance_id: instance,
        kind: BulkKind::Query,
        object_name: "tags".into(),
        request: json!({}),
        callback_url: None,
    };
    let running = store.create_bulk_job(&new, false).await.unwrap();
    assert_eq!(store.prune_bulk_jobs(Utc::now() - TimeDelta::hours(1)).await.unwrap(), 0, "within the retention");
    assert_eq!(store.prune_bulk_jobs(Utc::now() + TimeDelta::seconds(1)).await.unwrap(), 1);
    assert!(matches!(store.bulk_job(None, id).await, Err(StoreError::NotFound)));
    assert!(store.bulk_results(id, 0, false, 10).await.unwrap().is_empty());
    assert_eq!(store.bulk_job(None, running).await.unwrap().status, BulkStatus::Created, "a live job is kept");
}

/// The vendor limits shared by every node: PostgreSQL only (one SQLite node keeps them in memory).
mod vendor_budget {
    use crate::common::{run, Backend};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_leases_from_many_tasks_never_grant_more_than_the_limit_in_a_window() {
        run(Backend::Postgres, crate::concurrent_leases_never_grant_more_than_the_limit_in_a_window).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_lease_takes_back_unused_calls_raises_to_the_vendors_count_and_honours_a_block() {
        run(Backend::Postgres, crate::a_lease_takes_back_unused_calls_raises_to_the_vendors_count_and_honours_a_block)
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_has_no_shared_budget() {
        run(Backend::Sqlite, |db| async move { assert!(db.connect(crate::keyring()).await.vendor_budget().is_none()) })
            .await
    }
}

fn budget_request(want: u64, second: u64, minute: u64) -> domain::shared_budget::LeaseRequest {
    domain::shared_budget::LeaseRequest {
        key: "client:test".into(),
        want,
        caps: domain::shared_budget::Caps { second: Some(second), minute: Some(minute), day: None },
        margin_ms: 50,
        unused: Vec::new(),
        vendor_minute: None,
        vendor_day: None,
        blocked_until_ms: 0,
    }
}

async fn concurrent_leases_never_grant_more_than_the_limit_in_a_window(db: Arc<TestDb>) {
    const TASKS: usize = 48;
    let nodes = two_nodes(&db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let budget = nodes[task % 2].vendor_budget().expect("PostgreSQL shares the budget");
        tasks.push(tokio::spawn(async move {
            let mut leases = Vec::new();
            while tokio::time::Instant::now() < deadline {
                leases.push(budget.lease(&budget_request(3, 25, 60)).await.expect("a lease"));
            }
            leases
        }));
    }
    let mut per_second = BTreeMap::<i64, (u64, u64)>::new();
    let mut per_minute = BTreeMap::<i64, u64>::new();
    let mut statements = 0;
    for task in tasks {
        for lease in task.await.unwrap() {
            statements += 1;
            let (granted, most_used) = per_second.entry(lease.now_ms / 1000).or_default();
            *granted += lease.granted;
            *most_used = (*most_used).max(lease.second_used);
            *per_minute.entry(lease.now_ms / 60_000).or_default() += lease.granted;
            if lease.granted > 0 {
                assert!(lease.now_ms % 1000 < 950, "nothing granted in the margin: {lease:?}");
            }
        }
    }
    assert!(statements > TASKS * 2, "the tasks raced: {statements} leases");
    for (second, (granted, most_used)) in &per_second {
        assert!(*granted <= 25, "second {second}: {granted} granted");
        assert_eq!(granted, most_used, "second {second}: the row counts exactly what was granted");
    }
    assert!(per_minute.values().all(|granted| *granted <= 60), "{per_minute:?}");
    assert!(per_second.values().any(|(granted, _)| *granted == 25), "a full second: {per_second:?}");
}

async fn a_lease_takes_back_unused_calls_raises_to_the_vendors_count_and_honours_a_block(db: Arc<TestDb>) {
    use domain::shared_budget::{Unused, WindowCount};
    let budget = db.connect(keyring()).await.vendor_budget().expect("PostgreSQL shares the budget");
    // Away from a second's margin, so that the grants below are not refused for it.
    let mut first = budget.lease(&budget_request(0, 25, 1500)).await.unwrap();
    while first.now_ms % 1000 > 700 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        first = budget.lease(&budget_request(0, 25, 1500)).await.unwrap();
    }
    let five = budget.lease(&budget_request(5, 25, 1500)).await.unwrap();
    assert_eq!((five.granted, five.second_used), (5, 5));
    let (minute, day) = (five.now_ms / 60_000, five.now_ms / 86_400_000);
    let mut giving_back = budget_request(1, 25, 1500);
    giving_back.unused = vec![Unused { minute, day, count: 4 }, Unused { minute: minute - 1, day, count: 1 }];
    let one = budget.lease(&giving_back).await.unwrap();
    if one.now_ms / 60_000 == minute {
        assert_eq!(one.minute_used, 2, "5 − 4 unused + 1 (another minute's unused calls are ignored)");
        assert_eq!(one.day_used, 1, "5 − 4 − 1 unused + 1: the day takes back both");
    }
    let mut vendor = budget_request(1, 25, 1500);
    vendor.vendor_minute = Some(WindowCount { window: one.now_ms / 60_000, used: 1400 });
    let raised = budget.lease(&vendor).await.unwrap();
    if raised.now_ms / 60_000 == one.now_ms / 60_000 {
        assert_eq!(raised.minute_used, 1401, "raised to the vendor's count, then the grant");
        let lower = WindowCount { window: one.now_ms / 60_000, used: 10 };
        let kept = budget.lease(&budget_request(0, 25, 1500)).await.unwrap();
        assert_eq!(kept.minute_used, 1401, "{lower:?} would not lower it");
    }
    budget.block("client:test", raised.now_ms + 60_000).await.unwrap();
    let blocked = budget.lease(&budget_request(5, 25, 1500)).await.unwrap();
    assert_eq!(blocked.granted, 0);
    assert_eq!(blocked.blocked_until_ms, raised.now_ms + 60_000);
    budget.block("client:test", raised.now_ms + 1_000).await.unwrap();
    let still = budget.lease(&budget_request(5, 25, 1500)).await.unwrap();
    assert_eq!(still.blocked_until_ms, raised.now_ms + 60_000, "an earlier block does not shorten it");
}

// ---------------------------------------------------------------------------------------------
// Formula templates
// ---------------------------------------------------------------------------------------------

/// A template named `name`, with a field the model does not know (kept as written).
fn template(name: &str) -> serde_json::Value {
    json!({ "name": name, "steps": [], "x-unknown": { "kept": [1, 2.5, null, "\u{0}"] } })
}

async fn a_formula_is_created_read_listed_replaced_and_deleted(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let created = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    assert_eq!((created.name.as_str(), &created.template), ("Sync", &template("Sync")));
    assert_eq!(created.organization_id, org);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(store.formula(org, created.id).await.unwrap(), Some(created.clone()));
    let page = store.list_formulas(org, 10, None).await.unwrap();
    assert_eq!(page.items, vec![created.clone()]);
    assert!(page.next_page.is_none());

    let replaced = store.replace_formula(org, created.id, "Sync v2", &template("Sync v2")).await.unwrap();
    assert_eq!((replaced.id, replaced.name.as_str()), (created.id, "Sync v2"));
    assert_eq!(replaced.template, template("Sync v2"));
    assert_eq!(replaced.created_at, created.created_at, "a replace keeps the creation time");
    assert!(replaced.updated_at >= created.updated_at);
    assert_eq!(store.formula(org, created.id).await.unwrap(), Some(replaced));

    assert!(store.delete_formula(org, created.id).await.unwrap());
    assert!(!store.delete_formula(org, created.id).await.unwrap(), "deleted once");
    assert_eq!(store.formula(org, created.id).await.unwrap(), None);
    let missing = store.replace_formula(org, created.id, "Sync", &template("Sync")).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn formula_names_are_unique_per_organization_ignoring_ascii_case(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let first = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    let again = store.create_formula(org, "SYNC", &template("SYNC")).await;
    assert!(matches!(again, Err(StoreError::Conflict("formula"))), "{again:?}");
    let other = store.create_formula(org, "Other", &template("Other")).await.unwrap();
    let renamed = store.replace_formula(org, other.id, "sync", &template("sync")).await;
    assert!(matches!(renamed, Err(StoreError::Conflict("formula"))), "{renamed:?}");
    // Renaming a template to a new spelling of its own name is not a clash.
    store.replace_formula(org, first.id, "SYNC", &template("SYNC")).await.unwrap();
    // Beyond ASCII the spelling is the key.
    store.create_formula(org, "Élan", &template("Élan")).await.unwrap();
    store.create_formula(org, "élan", &template("élan")).await.unwrap();
    // Another organization may use the name.
    let (other_org, _) = store.create_organization("other").await.unwrap();
    store.create_formula(other_org.id, "Sync", &template("Sync")).await.unwrap();
}

async fn an_organization_never_sees_or_writes_another_organizations_formulas(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (intruder, _) = store.create_organization("intruder").await.unwrap();
    let theirs = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    assert_eq!(store.formula(intruder.id, theirs.id).await.unwrap(), None);
    assert!(store.list_formulas(intruder.id, 100, None).await.unwrap().items.is_empty());
    let replaced = store.replace_formula(intruder.id, theirs.id, "Mine", &template("Mine")).await;
    assert!(matches!(replaced, Err(StoreError::NotFound)), "{replaced:?}");
    assert!(!store.delete_formula(intruder.id, theirs.id).await.unwrap());
    assert_eq!(store.formula(org, theirs.id).await.unwrap(), Some(theirs), "untouched");
}

async fn formulas_are_listed_in_pages(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let name = format!("formula {i}");
        ids.push(store.create_formula(org, &name, &template(&name)).await.unwrap().id);
    }
    let mut seen = Vec::new();
    let mut next = None;
    loop {
        let page = store.list_formulas(org, 2, next.as_deref()).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|f| f.id));
        match page.next_page {
            Some(cursor) => next = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every template once, in id order");
    let bad = store.list_formulas(org, 2, Some("not-a-cursor")).await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)), "{bad:?}");
}

// ---------------------------------------------------------------------------------------------
// Formula instances and executions
// ---------------------------------------------------------------------------------------------

fn new_formula_instance(org: OrganizationId, formula_id: i64) -> NewFormulaInstance {
    NewFormulaInstance {
        organization_id: org,
        formula_id,
        name: "nightly".into(),
        active: true,
        configuration: json!({"crm": 7}),
        settings: json!({}),
    }
}

fn new_execution(org: OrganizationId, instance: &FormulaInstanceRecord, dedupe: Option<&str>) -> NewExecution {
    NewExecution {
        organization_id: org,
        formula_instance_id: instance.id,
        formula_id: instance.formula_id,
        trigger: json!({"type": "manual", "args": {"n": 1}}),
        template: template("Sync"),
        config: instance.configuration.clone(),
        dedupe_key: dedupe.map(str::to_owned),
    }
}

async fn a_formula_instance_binds_only_a_template_of_its_organization_and_goes_with_it(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (intruder, _) = store.create_organization("intruder").await.unwrap();
    let formula = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    let foreign = store.create_formula_instance(&new_formula_instance(intruder.id, formula.id)).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
    let instance = store.create_formula_instance(&new_formula_instance(org, formula.id)).await.unwrap();
    assert_eq!((instance.active, &instance.configuration), (true, &json!({"crm": 7})));
    assert_eq!(instance.event_cursor, None);
    assert_eq!(store.formula_instance(intruder.id, instance.id).await.unwrap(), None);
    assert_eq!(store.set_formula_instance_active(intruder.id, instance.id, false).await.unwrap(), None);
    assert_eq!(store.list_formula_instances(org, Some(formula.id)).await.unwrap(), vec![instance.clone()]);
    let active = store.active_formula_instances(0, 10).await.unwrap();
    assert_eq!(active, vec![(instance.clone(), template("Sync"))]);
    let off = store.set_formula_instance_active(org, instance.id, false).await.unwrap().unwrap();
    assert!(!off.active);
    assert!(store.active_formula_instances(0, 10).await.unwrap().is_empty(), "only active ones trigger");
    let at = chrono::Utc::now();
    store.advance_formula_triggers(instance.id, Some(12), Some(at)).await.unwrap();
    store.advance_formula_triggers(instance.id, None, None).await.unwrap();
    let moved = store.formula_instance(org, instance.id).await.unwrap().unwrap();
    assert_eq!(moved.event_cursor, Some(12));
    assert!((moved.schedule_cursor - at).num_milliseconds().abs() < 1);
    // The template's deletion takes its instances and their executions along.
    let execution = store.create_execution(&new_execution(org, &instance, None)).await.unwrap().unwrap();
    assert!(store.delete_formula(org, formula.id).await.unwrap());
    assert_eq!(store.formula_instance(org, instance.id).await.unwrap(), None);
    assert_eq!(store.execution(None, execution.id).await.unwrap(), None);
}

async fn an_execution_is_queued_once_per_cause_and_its_steps_recorded_in_order(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let (intruder, _) = store.create_organization("intruder").await.unwrap();
    let formula = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    let instance = store.create_formula_instance(&new_formula_instance(org, formula.id)).await.unwrap();
    let first = store.create_execution(&new_execution(org, &instance, Some("event:1:0"))).await.unwrap().unwrap();
    assert_eq!(first.status, ExecutionStatus::Queued);
    assert_eq!(first.trigger, json!({"type": "manual", "args": {"n": 1}}));
    assert_eq!(store.create_execution(&new_execution(org, &instance, Some("event:1:0"))).await.unwrap(), None);
    let manual = store.create_execution(&new_execution(org, &instance, None)).await.unwrap().unwrap();
    store.create_execution(&new_execution(org, &instance, None)).await.unwrap().unwrap();
    let foreign = store.create_execution(&new_execution(intruder.id, &instance, None)).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
    // Each execution is one job of the formula queue.
    let jobs = store.claim_jobs(store::FORMULA_QUEUE, "node", Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0].payload, json!({"execution": first.id}));

    let listed = store.list_executions(org, instance.id, None, 10).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed[0].id > listed[1].id, "newest first");
    assert_eq!(store.list_executions(org, instance.id, Some(manual.id), 10).await.unwrap().len(), 1);
    assert!(store.list_executions(intruder.id, instance.id, None, 10).await.unwrap().is_empty());
    assert_eq!(store.execution(Some(intruder.id), first.id).await.unwrap(), None);

    assert!(!store.begin_execution_step(first.id, 0, "read", "elementRequest", &json!({})).await.unwrap(), "queued");
    let started = store.start_execution(first.id).await.unwrap().unwrap();
    assert_eq!(started.status, ExecutionStatus::Pending);
    assert!(store.begin_execution_step(first.id, 0, "read", "elementRequest", &json!({"api": "/x"})).await.unwrap());
    // A run killed during step 0 begins it again: one record, started again.
    assert!(store.begin_execution_step(first.id, 0, "read", "elementRequest", &json!({"api": "/y"})).await.unwrap());
    let output = json!({"response": {"code": 200}});
    let finish =
        StepFinish { status: StepStatus::Success, next_branch: "onSuccess", output: &output, error: None, attempts: 2 };
    assert!(store.finish_execution_step(first.id, 0, &finish).await.unwrap());
    assert!(!store.finish_execution_step(first.id, 0, &finish).await.unwrap(), "finished once");
    assert!(store.begin_execution_step(first.id, 1, "tell", "script", &json!({})).await.unwrap());
    let steps = store.execution_steps(first.id).await.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].seq, steps[0].status, steps[0].attempts), (0, StepStatus::Success, 2));
    assert_eq!(steps[0].input, json!({"api": "/y"}));
    assert_eq!(steps[0].output, Some(output.clone()));
    assert_eq!(steps[0].next_branch.as_deref(), Some("onSuccess"));
    assert_eq!((steps[1].status, steps[1].output.as_ref()), (StepStatus::Started, None));

    assert!(store.finish_execution(first.id, ExecutionStatus::Success, None).await.unwrap());
    assert!(!store.finish_execution(first.id, ExecutionStatus::Failed, Some("late")).await.unwrap(), "final");
    let ended = store.execution(Some(org), first.id).await.unwrap().unwrap();
    assert_eq!(ended.status, ExecutionStatus::Success);
    assert!(ended.finished_at.is_some());
    assert_eq!(store.start_execution(first.id).await.unwrap().unwrap().status, ExecutionStatus::Success);

    assert_eq!(store.prune_executions(ended.finished_at.unwrap()).await.unwrap(), 0, "before, not at");
    let later = ended.finished_at.unwrap() + chrono::TimeDelta::seconds(1);
    assert_eq!(store.prune_executions(later).await.unwrap(), 1, "only the ended one");
    assert!(store.execution_steps(first.id).await.unwrap().is_empty(), "its steps went with it");
}

async fn an_ended_execution_takes_no_more_step_records(db: Arc<TestDb>) {
    let (store, org) = store_with_org(&db).await;
    let formula = store.create_formula(org, "Sync", &template("Sync")).await.unwrap();
    let instance = store.create_formula_instance(&new_formula_instance(org, formula.id)).await.unwrap();
    let execution = store.create_execution(&new_execution(org, &instance, None)).await.unwrap().unwrap();
    store.start_execution(execution.id).await.unwrap();
    assert!(store.begin_execution_step(execution.id, 0, "read", "elementRequest", &json!({})).await.unwrap());
    let cancelled = store.cancel_execution(org, execution.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    let output = json!(null);
    let finish = StepFinish {
        status: StepStatus::Failed,
        next_branch: "onFailure",
        output: &output,
        error: Some("x"),
        attempts: 1,
    };
    assert!(!store.finish_execution_step(execution.id, 0, &finish).await.unwrap());
    assert!(!store.begin_execution_step(execution.id, 1, "next", "script", &json!({})).await.unwrap());
    assert!(!store.finish_execution(execution.id, ExecutionStatus::Success, None).await.unwrap());
    let (intruder, _) = store.create_organization("intruder").await.unwrap();
    assert_eq!(store.cancel_execution(intruder.id, execution.id).await.unwrap(), None);
}
